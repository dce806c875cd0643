"""Datasets that isolate new knowledge: documents, multiple-choice questions, ground truth.

Data code never imports the model.
"""
