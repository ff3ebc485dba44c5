"""Dynamic equivalence: run a construct under Keras 2 and Keras 3 and compare the numbers.

Only :mod:`kmigrate.verify.worker` (and the worker-side modules it imports) ever import
TensorFlow; everything the parent process uses stays light.
"""
