"""What an upload becomes, shared by the upload pipeline (images.py, in the image worker) and the
published page (media.py) without loading Pillow or the app: the refusal, and the widths made."""

WIDTHS = (480, 960, 1600)  # responsive widths, each stored as the upload's format and as WebP


class ImageRejected(ValueError):
    """An upload that is not an acceptable image; `.message` is a sentence for the author."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
