from pathlib import Path


class ImportFormatError(Exception):
    """A file not in the expected shape: which file, which line, and what was expected."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
