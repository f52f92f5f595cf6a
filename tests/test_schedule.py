from planet.tools import schedule


def test_linear():
  assert schedule.linear(123, 0) == 1.0
  assert schedule.linear(50, 100) == 0.5
  assert schedule.linear(500, 100) == 1.0
  assert schedule.linear(25, -100) == 0.75
  assert schedule.linear(10, 100, minimum=0.3) == 0.3


def test_binary_collect_grid_default():
  # collect_every 5000 at batch 50: phase steps 5000, 10000, ... (every 100 updates).
  hits = [s for s in range(0, 50000, 50) if schedule.binary(s, 50, 5000, 5000, -1)]
  assert hits == list(range(5000, 50000, 5000))
  assert not schedule.binary(10000, 50, 5000, 5000, until=10000)


def test_is_every():
  # Log grid of the debug run: at batch 5 and every 10, phase steps 5, 15, ...
  assert [s for s in range(0, 30, 5) if schedule.is_every(s, 5, 10)] == [5, 15, 25]
  assert not schedule.is_every(5, 5, None)
