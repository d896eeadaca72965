"""Makes models/samples/face64.png and face256.png (run once, outputs committed).

Source: `skimage/data/astronaut.png` from the scikit-image 0.26.0 wheel (PyPI), a NASA portrait
of astronaut Eileen Collins, public domain ("No known copyright restrictions, released into the
public domain", per scikit-image's `data.astronaut` docstring).
  pip download --no-deps scikit-image==0.26.0 -d /tmp/skw   (then pass the wheel path)
Crop: the square (150, 45)-(300, 195) around the face, resized with PIL's Lanczos filter;
written as plain 8-bit RGB PNGs (the source's ICC profile is dropped; it is sRGB).
Usage: python3 scripts/golden/make_sample_faces.py /tmp/skw/scikit_image-0.26.0-*.whl
"""
import hashlib
import io
import os
import sys
import zipfile

from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ASTRONAUT_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
BOX = (150, 45, 300, 195)


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        data = z.read("skimage/data/astronaut.png")
    assert hashlib.sha256(data).hexdigest() == ASTRONAUT_SHA256, "unexpected astronaut.png"
    src = Image.open(io.BytesIO(data)).convert("RGB").crop(BOX)
    face = Image.frombytes("RGB", src.size, src.tobytes())  # plain 8-bit RGB, no ICC/ancillary chunks
    out = os.path.join(ROOT, "models", "samples")
    os.makedirs(out, exist_ok=True)
    for s in (64, 256):
        face.resize((s, s), Image.LANCZOS).save(os.path.join(out, f"face{s}.png"), optimize=True)


if __name__ == "__main__":
    main(sys.argv[1])
