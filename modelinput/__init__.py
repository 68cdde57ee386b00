"""The models' input rows, shared by training (builds its sets) and serving (scores).

Its own package so serving never imports training code and the data package (features/)
holds no model code: interest pairs (pandas and their numpy twin) and push pairs.
"""
