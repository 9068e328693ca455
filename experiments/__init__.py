"""The experiments shipped with initjax: one module per study (``initjax run --list``).

Installed as ``initjax.experiments``; ``initjax run NAME`` loads them by file path.
"""
