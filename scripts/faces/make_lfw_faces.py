#!/usr/bin/env python3
"""Makes the project's own 64x64 evaluation faces from scikit-image's `lfw_subset`.

`skimage.data.lfw_subset()` holds 200 grayscale 25x25 crops in [0, 1]: entries 0-99 are faces
from Labeled Faces in the Wild, 100-199 are background patches. Only entries 50-99 may be used
here; entries 0-49 (and matplotlib's grace_hopper) are kept aside for an independent evaluation.

Each face is quantized to 8 bits, upsampled to 64x64 with Pillow's bicubic filter and written
as RGB (the three channels equal: the source is grayscale).

    pip install scikit-image            # 0.26.0 made the committed files
    python3 scripts/faces/make_lfw_faces.py [FIRST [COUNT]]    # default: 50 8 -> lfw050..lfw057
"""
import os
import sys

import numpy as np
from PIL import Image
from skimage.data import lfw_subset

first = int(sys.argv[1]) if len(sys.argv) > 1 else 50
count = int(sys.argv[2]) if len(sys.argv) > 2 else 8
if first < 50 or first + count > 100:
    sys.exit("make_lfw_faces.py: only entries 50-99 may be used (0-49 are kept for an independent evaluation)")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "samples", "lfw")
os.makedirs(out, exist_ok=True)
faces = lfw_subset()
for i in range(first, first + count):
    gray = np.clip(np.rint(faces[i] * 255), 0, 255).astype(np.uint8)
    big = Image.fromarray(gray, mode="L").resize((64, 64), Image.BICUBIC).convert("RGB")
    path = os.path.join(out, f"lfw{i:03d}.png")
    big.save(path, optimize=True)
    print(path)
