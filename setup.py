"""planet-tf2: PlaNet (Hafner et al., ICML 2019) in TensorFlow 2."""

import setuptools

setuptools.setup(
    name='planet-tf2',
    version='0.1.0',
    description='Deep Planning Network (PlaNet): learning latent dynamics for planning from pixels, '
                'in TensorFlow 2.',
    license='Apache-2.0',
    packages=setuptools.find_packages(include=['planet', 'planet.*']),
    python_requires='>=3.10',
    install_requires=[
        'tensorflow==2.21.*',
        'tensorflow-probability==0.25.*',
        'tf-keras==2.21.*',
        'dm-control==1.0.50',
        'mujoco>=3.17,<4',  # mujoco 4.0 breaks dm-control 1.0.50 (missing flex_vertedge).
        'gymnasium>=1.0',
        'ruamel.yaml>=0.18',
        'numpy>=2',
        'scikit-image',
        'matplotlib',
        'imageio',
        'pillow',  # GIF summaries (planet/tools/summaries.py).
        'imageio-ffmpeg',  # MP4s for create_video; ships its own ffmpeg binary.
        'tensorboard==2.21.*',
    ],
    extras_require={
        'test': ['pytest', 'pytest-xdist'],  # the suite runs on both cores: -n 2
        # gym:<id> tasks: classic control with pygame for rendering (gymnasium[classic-control] pulls in
        # pygame-ce), Box2D for gym_racecar; gymnasium's MuJoCo envs (gym_cheetah) need only mujoco,
        # already a dependency.
        'gym': ['gymnasium[classic-control,box2d]>=1.0'],
        # gym:ALE/Pong-v5 and the other Atari games: ale-py ships the ROMs.
        'atari': ['gymnasium[atari]>=1.0', 'ale-py>=0.9'],
        # planet.scripts.sweep: many runs on a Ray cluster (tested with Ray 2.60; every node of a
        # cluster needs the same Ray version as its head).
        'cluster': ['ray[default]>=2.40,<3'],
        # NVIDIA GPUs: TensorFlow with its CUDA libraries, at the same pin (README: "GPU, mixed precision
        # and XLA").
        'gpu': ['tensorflow[and-cuda]==2.21.*'],
    },
)
