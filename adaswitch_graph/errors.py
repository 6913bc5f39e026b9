"""Errors a user can act on: each message names the cause and the fix."""


class AdaSwitchError(Exception):
    """Base class of the errors this package raises on purpose."""


class InvalidQuestionError(AdaSwitchError, ValueError):
    """The input holds no usable question."""


class ModelSpecError(AdaSwitchError, ValueError):
    """A model spec cannot be resolved to a chat model."""


class ModelUnavailableError(AdaSwitchError, RuntimeError):
    """A model exists in principle but cannot be used here (not installed, not pulled,
    server not reachable, key missing)."""


class ContextTooSmallError(AdaSwitchError, RuntimeError):
    """A model's server refused a request longer than its context (the question and
    the solution so far, with the prompt)."""


class SamplingError(AdaSwitchError, RuntimeError):
    """Steps were to be sampled (`samples=k`), and no sampled call succeeded."""
