"""The epoch loop: mini-batches over the training list, what runs after each epoch, and stopping."""
import numpy as np

from cnet import _checks

REGULARIZATIONS = ("L2", "L1")


class EarlyStopping:
    """network2's early stopping: stop once the evaluation accuracy has not improved
    for ``n`` epochs in a row.  As in the book's code, the best accuracy starts at 1,
    so an accuracy of 0 or 1 counts as no improvement."""

    def __init__(self, n):
        self.n = n
        self.best = 1
        self.epochs_without_improvement = 0

    def stop_after(self, accuracy):
        """Given an epoch's evaluation accuracy: True when training is to stop."""
        if accuracy > self.best:
            self.best = accuracy
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return self.epochs_without_improvement == self.n


class EtaSchedule:
    """The book's learning-rate schedule (chapter 3): halve η each time the accuracy on
    the evaluation data has not improved for ``n`` epochs in a row, and stop once η
    has fallen to η₀/128 (seven halvings)."""

    def __init__(self, eta, n):
        self.eta0 = self.eta = eta
        self.n = n
        self.best = None
        self.epochs_without_improvement = 0

    def after_epoch(self, accuracy):
        """Given an epoch's evaluation accuracy: the learning rate for the next epoch, or
        None when training is to stop."""
        if self.best is None or accuracy > self.best:
            self.best = accuracy
            self.epochs_without_improvement = 0
            return self.eta
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement == self.n:
            self.epochs_without_improvement = 0
            self.eta = self.eta / 2
            if self.eta <= self.eta0 / 128:
                return None
        return self.eta


class EpochLoop:
    """``_sgd``, the one loop over epochs and mini-batches behind every training call."""

    def _sgd(self, training_data, epochs, mini_batch_size, eta, lmbda, after_epoch,
             progress=None, progress_steps=100, step=None, mu=0.0,
             regularization="L2", keep_order=False, shuffle=True, drop_remainder=False):
        """Run ``epochs`` epochs of SGD; ``after_epoch(epoch, X, Y)`` runs after each one,
        given the training inputs (prepared for the kernels) and desired outputs,
        and stops the training by returning False, or sets the learning rate of
        the epochs after it by returning a number.  ``regularization`` "L2" or
        "L1" (of strength ``lmbda``), and momentum ``mu`` (0: none).
        ``keep_order``: the rows of X stay in the list's order (the compiled
        kernels may otherwise pack them in the order of the inputs' memory), for an
        ``after_epoch`` that sums over them, a training cost, in that order.

        Each epoch shuffles the caller's list in place (``random.shuffle``, or
        the seed's Generator), unless ``shuffle`` is False; then cuts it into
        mini-batches and steps on each, the last one shorter when the list is
        not a whole number of mini-batches, or left out (``drop_remainder``).
        ``progress(done, total)``, if given, is told how many examples of the
        epoch are done (0 when an epoch starts), about ``progress_steps`` times
        an epoch.  ``self.weights``/``self.biases`` are updated after every
        epoch, and when a KeyboardInterrupt stops the training: then to those of
        the last mini-batch done, with ``training_data`` this epoch's
        permutation of it.  When the class overrides one of ``TRAINING_HOOKS``,
        the epoch runs as the book's loop in Python instead: ``step(mini_batch)``
        (which calls ``self.update_mini_batch`` with the book's arguments) for
        each mini-batch, a list cut from the shuffled ``training_data``.
        """
        epochs = _checks.integer("epochs", epochs, 0)
        mini_batch_size = _checks.integer("mini_batch_size", mini_batch_size, 1)
        eta = _checks.real("eta", eta, positive=True)
        lmbda = _checks.real("lmbda", lmbda, positive=False)
        mu = _checks.momentum(mu)
        regularization = _checks.choice("regularization", regularization, REGULARIZATIONS)
        book_loop = step is not None and self._in_python(*self.TRAINING_HOOKS)
        if (mu > 0 or regularization == "L1") and book_loop:
            raise ValueError("mu > 0 and regularization='L1' are steps of cnet's own training; "
                             "{} overrides {}, whose step is the book's".format(
                                 type(self).__name__, ", ".join(sorted(
                                     self._overrides & self.TRAINING_HOOKS))))
        threads = self._threads()
        kernel_layers = self._kernel_layers()
        data = _checks.as_list("training_data", training_data)
        X, Y, rows = self._training_examples(data, by_address=not keep_order)
        try:
            kernels = self._kernels_for_cost()
            weights, biases = self._params()
            velocities = None
            if mu > 0:
                velocities = self._current_velocities() or (
                    [np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases])
            n = len(data)
            trained = n - n % mini_batch_size if drop_remainder else n
            # progress is reported every `chunk` examples, a whole number of mini-batches
            steps = 1 if progress is None else progress_steps
            chunk = max(1, trained // (steps * mini_batch_size)) * mini_batch_size
            if book_loop:
                self._announce()
                self._publish(weights, biases)
                with self._trusting():
                    for epoch in range(epochs):
                        if shuffle:
                            self._shuffle(data)
                        if progress is not None:
                            progress(0, trained)
                        for start in range(0, trained, mini_batch_size):
                            step(data[start:start + mini_batch_size])
                            done = min(start + mini_batch_size, trained)
                            if progress is not None and (done % chunk == 0 or done == trained):
                                progress(done, trained)
                        if after_epoch(epoch, X, Y) is False:
                            break
                return
            cost = self._kernel_cost()
            for epoch in range(epochs):
                if shuffle:
                    rows = rows[self._shuffle(data)]      # a whole permutation or none
                if progress is not None:
                    progress(0, trained)
                try:
                    for start in range(0, trained, chunk):
                        kernels.train(weights, biases, X, Y, rows[start:min(start + chunk, trained)],
                                      mini_batch_size, eta, lmbda, n, cost, threads,
                                      regularization=regularization, mu=mu, velocities=velocities,
                                      **kernel_layers)
                        if progress is not None:
                            progress(min(start + chunk, trained), trained)
                except KeyboardInterrupt:   # the kernels stop between mini-batches: publish the last one's
                    self._end_epoch(data, rows, weights, biases, velocities, keep_order)
                    raise
                self._end_epoch(data, rows, weights, biases, velocities, keep_order)
                verdict = after_epoch(epoch, X, Y)
                if verdict is False:
                    break
                if verdict is not None and verdict is not True:
                    eta = _checks.real("eta", verdict, positive=True)
                if self._overrides:
                    # an overridden monitor ran: training continues from what it left there
                    weights, biases = self._params()
        finally:
            self._keep_inputs(X)      # for the next call to pack into

    def _end_epoch(self, data, rows, weights, biases, velocities, keep_order):
        """Publish the parameters (and velocities) the kernels left, and remember where
        each example of ``data`` was packed (when the rows follow the inputs' memory)."""
        if not keep_order:
            self._keep_packed_rows(data, rows)
        self._publish(weights, biases)
        if velocities is not None:
            self._keep_velocities(velocities)
