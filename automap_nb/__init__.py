"""automap_nb: helper package for the AUTOMAP notebook collection.

Modules, one concern each:

- ``transforms``  centred FFTs, cropping, downsampling, normalisation (pure numpy)
- ``mri_data``    reading fastMRI single-coil HDF5 files and folders
- ``sample_data`` the embedded default dataset in the fastMRI schema
- ``prepare``     the seed's preprocessing into a prepared HDF5 file
- ``splits``      volume-level train/val/test assignment
- ``augment``     reflection-tiling random-crop augmentation
- ``models``      AUTOMAP and its variants (Keras 3, backend-agnostic)
- ``training``    data feeding, training loop, checkpoints and resume
- ``pipeline``    the device input pipeline (crops, masks, FFT inside the compiled step)
- ``distribute``  keras.distribution data / model parallel layouts (JAX)
- ``evaluate``    PSNR, NMSE, SSIM with fastMRI's and the seed's conventions
- ``subsample``   fastMRI-style column masks for undersampling
- ``baselines``   zero-filled and total-variation reconstructions
- ``unet``        the U-Net baseline (Keras 3)
- ``study``       helpers of chapters 06-07 (training several methods, tables, findings)
- ``bench``       training / inference throughput benchmark
- ``plotting``, ``plotting_training``  figures of chapters 01-02 and 03-05
- ``params``      validation of notebook parameters; ``profiles`` named parameter sets
- ``results``     atomic writing of a chapter's results
- ``runner``      executing the numbered notebooks with papermill
- ``book``        building the Jupyter Book from a run
- ``cli``         the ``automap-nb`` command
"""

__version__ = "0.1.0"
