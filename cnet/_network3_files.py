"""network3 networks as JSON files: every layer's kind, shapes, activation,
dropout and parameters, written atomically and read back with checks."""
import json

import numpy as np

from cnet._persistence import write_json

FORMAT = "cnet.network3"


def _layer_record(layer):
    record = {"kind": layer.kind, "w": layer.w.value.tolist(), "b": layer.b.value.tolist()}
    if layer.kind == "conv_pool":
        record.update(filter_shape=list(layer.filter_shape), image_shape=list(layer.image_shape),
                      poolsize=list(layer.poolsize), activation=layer.activation)
    else:
        record.update(n_in=layer.n_in, n_out=layer.n_out, p_dropout=layer.p_dropout)
        if layer.kind == "full":
            record["activation"] = layer.activation
    return record


def save(net, filename):
    """Write ``net`` to ``filename`` (``_persistence.write_json``: atomically)."""
    data = {"format": FORMAT, "dtype": net.dtype.name, "mini_batch_size": net.mini_batch_size,
            "seed": net.seed, "layers": [_layer_record(layer) for layer in net.layers]}
    write_json(filename, data)


def load(filename):
    """The network3.Network saved in ``filename``; ValueError naming the file and the
    layer when it is not one."""
    from cnet import network3
    from cnet._network3_layers import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    with open(filename) as f:
        try:
            data = json.load(f)
        except ValueError as exc:
            raise ValueError("{}: not JSON ({})".format(filename, exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("layers"), list):
        raise ValueError("{}: not a network3 file (no \"format\": \"{}\" with its layers)".format(
            filename, FORMAT))
    if data.get("dtype") not in ("float32", "float64"):
        raise ValueError("{}: dtype {!r}; expected float32 or float64".format(filename, data.get("dtype")))
    saved_floatx, network3.floatX = network3.floatX, data["dtype"]
    state = np.random.get_state()         # building layers draws; a load must not move the generator
    try:
        layers = []
        for l, record in enumerate(data["layers"]):
            where = "{}: layers[{}]".format(filename, l)
            try:
                kind = record["kind"]
                if kind == "conv_pool":
                    layer = ConvPoolLayer(tuple(record["filter_shape"]), tuple(record["image_shape"]),
                                          tuple(record["poolsize"]), record["activation"])
                elif kind == "full":
                    layer = FullyConnectedLayer(record["n_in"], record["n_out"], record["activation"],
                                                record["p_dropout"])
                elif kind == "softmax":
                    layer = SoftmaxLayer(record["n_in"], record["n_out"], record["p_dropout"])
                else:
                    raise ValueError("unknown kind {!r}".format(kind))
                for name in ("w", "b"):
                    shared = getattr(layer, name)
                    value = np.asarray(record[name], dtype=np.float64)
                    if value.shape != shared.value.shape or not np.all(np.isfinite(value)):
                        raise ValueError("{} has shape {}; expected {} finite numbers".format(
                            name, value.shape, shared.value.shape))
                    shared.set_value(value)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError("{}: {}".format(where, exc)) from None
            layers.append(layer)
    finally:
        network3.floatX = saved_floatx
        np.random.set_state(state)
    try:
        return network3.Network(layers, data.get("mini_batch_size"), seed=data.get("seed"))
    except (TypeError, ValueError) as exc:
        raise ValueError("{}: {}".format(filename, exc)) from None
