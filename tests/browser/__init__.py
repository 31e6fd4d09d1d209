"""Browser tests: JupyterLab + Chromium through Playwright. A package, so its conftest keeps its own name."""
