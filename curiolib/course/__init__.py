"""The course machinery: the lesson catalog, the papermill harness, notebook setup, widgets and sliders.

Kept free of imports so that `import curiolib` (which needs `setup_notebook`) stays light.
"""
