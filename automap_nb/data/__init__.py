"""Data: fastMRI files (:mod:`.mri_data`), the embedded sample data, the prepared file, splits,
transforms, masks, augmentation and the device input pipeline."""
