"""Test-side helpers of the fakes: the fakes themselves ship with their plugins
(``marketd.plugins.<name>.fake``, built on ``marketd.sdk.fakes``); ``specs.py`` plugs the official
API models into them. The other modules here only re-export for older test imports."""
