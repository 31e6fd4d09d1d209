"""Browser tests (JupyterLab + Chromium through Playwright); a package so its conftest does not shadow tests/conftest.py."""
