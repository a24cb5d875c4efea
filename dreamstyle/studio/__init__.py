"""The studio: a local web page that makes pictures and shows them forming.

A thin layer over the job spine: the page sends Jobs (app.py), one worker thread runs them one at
a time with `run` (queue.py), and the output folder is the gallery (files.py).
"""
