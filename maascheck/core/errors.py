"""The exception tree shared by every maascheck layer."""


class MaascheckError(Exception):
    """Base class of every error maascheck raises on purpose."""


class ConfigError(MaascheckError):
    """Bad usage or configuration: the message says what is wrong, what is valid, and an example.

    The CLI turns it into exit code 2.
    """
