"""The training engine: ``loop.train(TrainConfig(...))`` and everything it leans on.

``schedule`` (the paper's schedules and recipes) and ``run_config`` (``TrainConfig``), ``build`` (the
model and data a config builds), ``loop`` (the training loop), ``step`` (one SGD step, evaluation),
``cuda_graph`` (the step as one CUDA graph), ``precision``, ``distributed``, ``budget`` (a run fitted to
minutes), ``checkpoint``, ``resume``, ``run_folder``, ``results``, ``stopping``; ``bench`` and
``data_bench`` time the step and the data supply.
"""
