"""Sources shared by the engine tests."""

PAIRED_LISTINGS = (
    "import glob\n"
    "images = glob.glob('images/*.png')\n"
    "masks = sorted(glob.glob('masks/*.png'))\n"
    "pairs = list(zip(images, masks))\n"
)
PAIRED_LISTINGS_FIXED = PAIRED_LISTINGS.replace(
    "images = glob.glob('images/*.png')", "images = sorted(glob.glob('images/*.png'))")
CLEAN = "import glob\nimages = sorted(glob.glob('*.png'))\nprint(images)\n"
