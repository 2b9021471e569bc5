"""Glue between the training loop and scikit-learn's callback API (``sklearn.callback``).

scikit-learn 1.9 added callbacks: ``estimator.set_callbacks(ProgressBar())`` and the like.
An estimator reports a tree of *tasks* to them: ``fit`` (or ``partial_fit``) is the root
task, and each epoch is one of its subtasks. For every task the callbacks are told when
it begins and when it ends, with the training data and, if they ask for it, a copy of
the estimator ready to transform and score as if training had stopped there. A callback
that returns True at the end of an epoch stops training: the loop ends as it does when
the loss stops improving, and the estimator is fitted consistently (with
``early_stopping``, from the best validation epoch).

Tasks carry ``y``. An autoencoder's target is its input, so when ``fit`` is given no
``y`` the tasks report ``X`` as their ``y``: :class:`sklearn.callback.ScoringMonitor`
only scores tasks that have one, and the default scorer (:meth:`score`) ignores it.

On scikit-learn without ``sklearn.callback`` (before 1.9) the mixin is an empty class,
the decorator returns the method unchanged and :func:`epoch_monitor` returns None: the
estimator works as before, ``verbose`` included, without ``set_callbacks``.
"""

import functools
import inspect

from sklearn import get_config
from sklearn.utils.validation import _is_fitted

try:
    from sklearn.callback import CallbackSupportMixin

    HAS_CALLBACKS = True
except ImportError:  # scikit-learn < 1.9
    HAS_CALLBACKS = False

    class CallbackSupportMixin:
        """Stand-in for scikit-learn versions without the callback API."""


def fit_task(method):
    """Decorate ``fit`` or ``partial_fit`` to report the call as a root task.

    ``fit`` has an epoch subtask per epoch trained, up to ``max_iter`` plus those of
    the random starts dropped (``n_init``; the total announced counts them also
    where a guided start of ``n_init="auto"`` trains alone), ``partial_fit`` one. Apply below
    ``_fit_context``, which validates the parameters first and tears the callbacks
    down at the end, also when fitting fails.

    Parameters
    ----------
    method : callable
        ``fit`` or ``partial_fit``, with signature ``(self, X, y=None,
        sample_weight=None)`` or ``(self, X, y=None)``.

    Returns
    -------
    decorated : callable
        Without callback support, ``method`` itself.
    """
    if not HAS_CALLBACKS:
        return method

    with_weights = "sample_weight" in inspect.signature(method).parameters
    reporting = _reporting(method, method.__name__, with_weights)
    if with_weights:
        return reporting

    # e.g. the imputer's fit(X, y=None): a sample_weight is refused, as by the method.
    @functools.wraps(method)
    def unweighted(self, X, y=None):
        return reporting(self, X, y)

    return unweighted


def validated_partial_fit(partial_fit):
    """Decorate ``partial_fit``, above ``_fit_context``, to validate the parameters each call.

    scikit-learn's ``_fit_context`` validates them for a ``partial_fit`` only while
    the estimator is not fitted; after a ``set_params`` a later call would train with
    values ``fit`` refuses (a negative step size climbs the loss). This validates
    them first, as ``fit`` does, unless the user turned validation off
    (``sklearn.set_config(skip_parameter_validation=True)``). The cost is a few
    microseconds against an epoch.
    """

    @functools.wraps(partial_fit)
    def wrapper(self, *args, **kwargs):
        # An unfitted estimator's are validated by _fit_context itself.
        if not get_config()["skip_parameter_validation"] and _is_fitted(self):
            self._validate_params()
        return partial_fit(self, *args, **kwargs)

    return wrapper


def _reporting(method, task_name, with_weights):
    """:func:`fit_task`'s wrapper of ``method``; passes ``sample_weight`` if ``with_weights``."""

    @functools.wraps(method)
    def wrapper(self, X, y=None, sample_weight=None):
        n_epochs = 1 if task_name == "partial_fit" else self._epoch_budget()
        context = self._init_callback_context(task_name=task_name, max_subtasks=n_epochs)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        target = X if y is None else y
        context.call_on_fit_task_begin(estimator=self, X=X, y=target, metadata=metadata)
        epochs = _EpochTasks(self, context, n_epochs, X, target, metadata)
        # The estimator as it was: a callback failing when the root task ends
        # fails the whole call, which then leaves it so, as a failed fit does.
        saved_state = dict(self.__dict__)
        # Set before fitting starts, so that a failed fit, which restores the
        # estimator's state, restores it too; removed in any case.
        self._skae_epoch_tasks = epochs
        try:
            if with_weights:
                method(self, X, y, sample_weight=sample_weight)
            else:
                method(self, X, y)
        finally:
            self.__dict__.pop("_skae_epoch_tasks", None)
        try:
            epochs.close()
            context.call_on_fit_task_end(
                estimator=self, X=X, y=target, metadata=metadata, reconstruction_attributes={}
            )
        except BaseException:
            restore_state(self, saved_state)
            raise
        return self

    return wrapper


def restore_state(estimator, saved_state):
    """Set ``estimator``'s attributes back to ``saved_state`` (a copy of its ``__dict__``).

    Puts the saved values back, then drops what was added since: the estimator
    is never empty meanwhile, as another thread's ``transform`` would find it.
    """
    added = estimator.__dict__.keys() - saved_state.keys()
    estimator.__dict__.update(saved_state)
    for key in added:
        del estimator.__dict__[key]


def epoch_monitor(estimator, snapshot):
    """The monitor to pass to :func:`~skae._training.train`, or None.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted, inside a method decorated by :func:`fit_task`.
    snapshot : callable
        ``snapshot(n_iter) -> dict``: the fitted attributes of the model a
        stop now would leave (the best start so far while random starts
        compete; with rows held out, the best epoch's so far; parameters
        copied), with ``n_iter_`` that model's epoch count (``n_iter``, the
        epochs of the start in training, when it is that start's). Called
        when an epoch begins and when it ends.

    Returns
    -------
    monitor : callable or None
        ``monitor(epoch, loss, validation_loss, seconds) -> bool``, with a
        ``begin_epoch(epoch)`` method; None without callback support.
    """
    epochs = estimator.__dict__.get("_skae_epoch_tasks")
    if epochs is None:
        return None
    epochs.snapshot_of = snapshot
    return epochs


class _EpochTasks:
    """One subtask of the root task per epoch, begun before the epoch and ended after it.

    The training loop calls :meth:`begin_epoch` right before an epoch trains.
    Every snapshot, at an epoch's beginning or end, is the model a stop there
    would leave (scikit-learn's definition): so an epoch begins with what the
    previous one ended with, the first with the first start's initial weights.
    An epoch that began but did not finish (its start diverged) is ended
    without data when the next begins, or by :meth:`close`.
    """

    def __init__(self, estimator, context, max_epochs, X, y, metadata):
        self._estimator = estimator
        self._context = context
        self._max_epochs = max_epochs
        self._hook_data = {"X": X, "y": y, "metadata": metadata}
        self.snapshot_of = None
        self._task = None
        self._n_begun = 0
        self._n_iter = 0

    def _snapshot(self):
        """Fitted attributes as of now; the weights are copied."""
        return self.snapshot_of(self._n_iter)

    def begin_epoch(self, epoch):
        self.close()
        if self._n_begun >= self._max_epochs:
            return
        self._n_begun += 1
        self._n_iter = epoch - 1
        self._task = self._context.subcontext(task_name="epoch")
        self._task.call_on_fit_task_begin(
            estimator=self._estimator, reconstruction_attributes=self._snapshot, **self._hook_data
        )

    def __call__(self, epoch, loss, validation_loss, seconds):
        task, self._task = self._task, None
        if task is None:
            return False
        self._n_iter = epoch
        return task.call_on_fit_task_end(
            estimator=self._estimator, reconstruction_attributes=self._snapshot, **self._hook_data
        )

    def close(self):
        """End an epoch task that began but did not finish, without data."""
        if self._task is not None:
            self._task.call_on_fit_task_end(estimator=self._estimator)
            self._task = None
