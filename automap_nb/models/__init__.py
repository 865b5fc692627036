"""The networks: AUTOMAP and its variants (:mod:`.automap`), fastMRI's U-Net baseline (:mod:`.unet`).

``from automap_nb import models`` gives the public names of both (``models.build_variant``,
``models.count_params``, ``models.build_unet``, …); Keras 3 functional code, no TensorFlow import.
"""

# yapf: disable
from automap_nb.models.automap import (CONV_FILTERS, CONV_KERNEL, DECONV_KERNEL, PRECISIONS, TRANSFORM_GAIN, TRANSFORM_INITS,
                                       TRANSFORM_LAYERS, VARIANTS, ActivityL1, AlignDCPhase, ComplexMagnitude, TransformInit,
                                       build_automap, build_dautomap, build_fullconv, build_variant, centred_idft_matrix,
                                       count_macs, count_params, fullconv_base_width, has_dc_phase, layer_table,
                                       variant_fc_widths)
from automap_nb.models.unet import build_unet
# yapf: enable
