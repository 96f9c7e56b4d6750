"""The error an image upload is refused with; kept apart so importing it does not load Pillow."""


class ImageRejected(ValueError):
    """An upload that is not an acceptable image; `.message` is a sentence for the author."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
