"""Pieces of the training harness: checkpoints, data batches, losses and validation.

The entry point is :func:`pixbench.train.train_model`; these modules keep it short.
"""
