"""Categorical columns: one-hot groups, validated, or read from a fitted ColumnTransformer."""

from numbers import Integral


def check_categorical_groups(groups, n_features):
    """Validate ``categorical_groups`` against ``n_features`` columns.

    Parameters
    ----------
    groups : sequence of sequences of int or None
        Column indices of each one-hot block.
    n_features : int
        Number of columns of the data.

    Returns
    -------
    groups : tuple of tuple of int
        The groups as tuples of Python ints (``()`` for None), in the order given.

    Raises
    ------
    ValueError
        If a group is not a sequence of integers, has fewer than two columns,
        repeats a column, points outside ``[0, n_features)`` or shares a column
        with another group.
    """
    if groups is None:
        return ()
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
        raise ValueError(
            "categorical_groups must be a list of sequences of column indices, e.g. "
            f"[[0, 1, 2], [5, 6]]; got {groups!r}."
        )
    if iter(groups) is groups:  # a generator or iterator: used up by the first fit
        raise ValueError(
            "categorical_groups must be a list of sequences of column indices, e.g. "
            f"[[0, 1, 2], [5, 6]]; got an iterator ({type(groups).__name__}), which the "
            "first use would exhaust: pass list(...) of it."
        )
    checked = []
    owner = {}
    for number, group in enumerate(groups):
        if isinstance(group, (str, bytes)) or not hasattr(group, "__iter__"):
            raise ValueError(
                f"categorical_groups[{number}] must be a sequence of column indices, "
                f"got {group!r}."
            )
        if iter(group) is group:
            raise ValueError(
                f"categorical_groups[{number}] must be a sequence of column indices; got "
                f"an iterator ({type(group).__name__}), which the first use would "
                "exhaust: pass list(...) of it."
            )
        columns = list(group)
        for column in columns:
            if not isinstance(column, Integral) or isinstance(column, bool):
                raise ValueError(
                    f"categorical_groups[{number}] must hold integer column indices, "
                    f"got {column!r}."
                )
        columns = [int(c) for c in columns]
        if len(columns) < 2:
            raise ValueError(
                f"categorical_groups[{number}] = {columns} has {len(columns)} column(s); a "
                "one-hot group needs at least 2 (a single 0/1 column is a numeric feature)."
            )
        if len(set(columns)) != len(columns):
            raise ValueError(f"categorical_groups[{number}] = {columns} repeats a column.")
        for column in columns:
            if column < 0:
                raise ValueError(
                    f"categorical_groups[{number}] refers to column {column}: groups hold "
                    f"column indices from 0 to {n_features - 1} (negative ones do not count "
                    "from the end)."
                )
            if column >= n_features:
                raise ValueError(
                    f"categorical_groups[{number}] refers to column {column}, but X has "
                    f"{n_features} columns (indices 0 to {n_features - 1}). Groups read "
                    "by categorical_groups_from from a ColumnTransformer that is refitted "
                    "later (in cross-validation, say) can miss a category a fold lacks: "
                    "give its OneHotEncoder the categories (categories=[...])."
                )
            if column in owner:
                raise ValueError(
                    f"Column {column} is in categorical_groups[{owner[column]}] and "
                    f"categorical_groups[{number}]; the groups must be disjoint."
                )
            owner[column] = number
        checked.append(tuple(columns))
    return tuple(checked)


def _refuse_a_missing_category(name, encoder, i, categories):
    """Raise if the encoder's feature ``i`` has NaN or None among its categories."""
    from sklearn.utils._missing import is_scalar_nan

    missing = [c for c in categories if c is None or is_scalar_nan(c)]
    if not missing:
        return
    raise ValueError(
        f"The OneHotEncoder {name!r} encodes the missing values of its feature "
        f"{_feature_name(encoder, i)} "
        f"as a category of their own ({missing[0]!r}): in a group, such a row would count "
        "as observed (a category to reconstruct, never imputed). Encode them as an "
        "all-zero block, which counts as missing: give the encoder the categories "
        "without the missing value and handle_unknown='ignore', e.g. OneHotEncoder("
        "categories=[sorted(df[c].dropna().unique()) for c in columns], "
        "handle_unknown='ignore', sparse_output=False)."
    )


def _feature_name(encoder, i):
    names = getattr(encoder, "feature_names_in_", None)
    return repr(names[i]) if names is not None else f"{i} of its input"


def _warn_of_a_lone_column(name, encoder, i, column):
    """Warn: the encoder's feature ``i`` has one column, 0 for unknown values too.

    Called by :func:`categorical_groups_from` itself: the warning points at its caller.
    """
    import warnings

    warnings.warn(
        f"The OneHotEncoder {name!r} has a single category for its feature "
        f"{_feature_name(encoder, i)}: its one column (output column {column}) is not a "
        "group, and is 1 for that category and 0 for anything else, an unknown or "
        f"missing value included (handle_unknown={encoder.handle_unknown!r}), which "
        "the autoencoder reads as an observed 0. If a 0 there can mean missing, encode "
        "that feature yourself as a numeric 0/1 column with NaN where it is missing.",
        UserWarning,
        stacklevel=3,
    )


def _warn_of_unknown_as_infrequent(name, encoder, i, columns):
    """Warn: unknown values of feature ``i``, missing ones too, go to its infrequent column.

    A group reads that column's 1 as an observed category. Called by
    :func:`categorical_groups_from` itself: the warning points at its caller.
    """
    import warnings

    warnings.warn(
        f"The OneHotEncoder {name!r} encodes unknown values of its feature "
        f"{_feature_name(encoder, i)}, a missing value (NaN) included, as its infrequent "
        f"category (handle_unknown={encoder.handle_unknown!r}; the group's last column, "
        f"output column {columns[-1]}): such a row counts as observed, a category to "
        "reconstruct, never imputed. Use handle_unknown='ignore', which writes them as "
        "an all-zero block, missing.",
        UserWarning,
        stacklevel=3,
    )


def _encoder_inside(transformer):
    """The parameter name of a OneHotEncoder that ``transformer`` holds, or None."""
    from sklearn.preprocessing import OneHotEncoder

    if not hasattr(transformer, "get_params"):
        return None
    for key, value in transformer.get_params(deep=True).items():
        if isinstance(value, OneHotEncoder):
            return key
    return None


def _refuse_a_hidden_encoder(name, transformer):
    """Raise if ``transformer`` (not an encoder, not a ColumnTransformer) holds a OneHotEncoder."""
    inner = _encoder_inside(transformer)
    if inner is not None:
        raise ValueError(
            f"The transformer {name!r} ({type(transformer).__name__}) holds a "
            f"OneHotEncoder ({inner!r}) whose columns categorical_groups_from cannot "
            "place in its output: it reads an encoder given to the ColumnTransformer on "
            "its own, as the last step of a Pipeline, or in a nested ColumnTransformer. "
            "Give the encoder its own entry in the ColumnTransformer, or give "
            "categorical_groups yourself."
        )


def _last_step(name, transformer):
    """A ColumnTransformer entry's transformer, or its last step if it is a Pipeline.

    Steps that pass their input through (``"passthrough"``, None) do not count,
    and a Pipeline's last step that is a Pipeline is unwrapped in turn. A
    Pipeline that one-hot encodes in an earlier step (the encoder itself, or
    one inside that step) is refused: the steps after the encoder change its
    columns.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    while isinstance(transformer, Pipeline):
        steps = [(n, step) for n, step in transformer.steps if step not in (None, "passthrough")]
        if not steps:
            return "passthrough"
        for step_name, step in steps[:-1]:
            if isinstance(step, OneHotEncoder) or _encoder_inside(step) is not None:
                raise ValueError(
                    f"The Pipeline {name!r} one-hot encodes in its step {step_name!r}, which "
                    "is not its last: the steps after it change the columns, so they cannot "
                    "be read as groups. Make the OneHotEncoder the last step of that "
                    "Pipeline, or give categorical_groups yourself."
                )
        transformer = steps[-1][1]
    return transformer


def categorical_groups_from(column_transformer):
    """The one-hot groups of the output of a fitted ColumnTransformer.

    Every :class:`~sklearn.preprocessing.OneHotEncoder` of the
    :class:`~sklearn.compose.ColumnTransformer` (on its own, as the last step
    of a :class:`~sklearn.pipeline.Pipeline`, or in a ColumnTransformer nested
    in it the same way) writes one block of columns per
    input feature; this returns their column indices in the transformer's
    output, ready for ``categorical_groups``. A feature with a single output
    column (one category only) is not a group and is left out: its column is a
    0/1 numeric feature. With ``handle_unknown`` other than ``"error"`` its 0
    also stands for an unknown or missing value, which the autoencoder reads
    as an observed 0; this warns then (give that feature a numeric column of
    your own, NaN where it is missing, if a 0 there can mean missing).
    Infrequent categories (``min_frequency``, ``max_categories``) make one more
    column of their feature's block; with ``handle_unknown="infrequent_if_exist"``
    or ``"warn"`` unknown and missing values go to that column, observed, and
    this warns (``handle_unknown="ignore"`` makes them an all-zero block, missing).

    Parameters
    ----------
    column_transformer : ColumnTransformer
        A fitted column transformer.

    Returns
    -------
    groups : list of list of int
        Column indices of each one-hot block of the output, in output order.

    Raises
    ------
    ValueError
        If the transformer is not fitted, or an encoder drops a category
        (``drop`` other than None): a group then has no column for its first
        category, so a missing category could not be told from it. Or if an
        encoder made a category of missing values (NaN or None, as
        ``OneHotEncoder`` does by default): a group would then never be
        missing; pass the encoder ``categories`` without them and
        ``handle_unknown="ignore"``, so that a missing value is an all-zero
        block. Or if a Pipeline has a OneHotEncoder before its last step: the
        steps after it change its columns. Or if a OneHotEncoder sits inside
        another transformer (a :class:`~sklearn.pipeline.FeatureUnion`, say),
        whose output columns this cannot place.

    Warns
    -----
    UserWarning
        If an encoder gives a feature a single column whose 0 may stand for an
        unknown or missing value (above).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> from skae import categorical_groups_from
    >>> X = np.array([[1.0, 0, 5], [2.0, 1, 6], [3.0, 2, 5]])
    >>> ct = make_column_transformer((StandardScaler(), [0]), (OneHotEncoder(), [1, 2]))
    >>> ct.fit_transform(X).shape
    (3, 6)
    >>> categorical_groups_from(ct)
    [[1, 2, 3], [4, 5]]
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(column_transformer, ColumnTransformer):
        hint = (
            ": pass the pipeline's ColumnTransformer step, e.g. pipe[0]"
            if type(column_transformer).__name__ == "Pipeline"
            else ""
        )
        raise ValueError(
            "categorical_groups_from needs a fitted sklearn.compose.ColumnTransformer, "
            f"got {type(column_transformer).__name__}{hint}."
        )
    check_is_fitted(column_transformer)
    warnings_due = []
    groups = _groups_of(column_transformer, 0, warnings_due)
    for warn, args in warnings_due:
        warn(*args)
    return groups


def _groups_of(column_transformer, offset, warnings_due):
    """:func:`categorical_groups_from` for a transformer whose output starts at ``offset``.

    Appends to ``warnings_due`` ``(warning function, its arguments)`` for each
    one-column feature whose 0 may stand for an unknown value, and each feature
    whose unknown values go to its infrequent column.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    groups = []
    for name, transformer, _ in column_transformer.transformers_:
        encoder = _last_step(name, transformer)
        block = column_transformer.output_indices_[name]
        if block.start == block.stop:
            continue  # selected no column (left unfitted)
        if isinstance(encoder, ColumnTransformer):
            groups.extend(_groups_of(encoder, offset + block.start, warnings_due))
            continue
        if not isinstance(encoder, OneHotEncoder):
            _refuse_a_hidden_encoder(name, encoder)
            continue
        block = range(offset + block.start, offset + block.stop)
        if encoder.drop is not None:
            raise ValueError(
                f"The OneHotEncoder {name!r} has drop={encoder.drop!r}: a dropped category "
                "has no column, so it could not be told from a missing one. Use "
                "OneHotEncoder(drop=None) for categorical_groups."
            )
        infrequent = getattr(encoder, "infrequent_categories_", None)
        start = block.start
        for i, categories in enumerate(encoder.categories_):
            _refuse_a_missing_category(name, encoder, i, categories)
            size = len(categories)
            if infrequent is not None and infrequent[i] is not None:
                size += 1 - len(infrequent[i])
            if size >= 2:
                groups.append(list(range(start, start + size)))
                if (
                    infrequent is not None
                    and infrequent[i] is not None
                    and encoder.handle_unknown in ("infrequent_if_exist", "warn")
                ):
                    warnings_due.append(
                        (_warn_of_unknown_as_infrequent, (name, encoder, i, groups[-1]))
                    )
            elif encoder.handle_unknown != "error":
                warnings_due.append((_warn_of_a_lone_column, (name, encoder, i, start)))
            start += size
        if start != block.stop:
            raise ValueError(
                f"The OneHotEncoder {name!r} writes columns {block.start} to {block.stop - 1} "
                f"of the output, but its categories account for {start - block.start}: "
                "cannot read its groups."
            )
    return groups
