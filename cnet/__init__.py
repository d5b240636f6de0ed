"""cnet: the networks of *Neural Networks and Deep Learning*, compiled.

``from cnet import network, network2, mnist_loader`` replaces the book's
modules; ``from cnet import Network`` is ``cnet.network.Network``.
"""
from cnet import network, network2
from cnet.network import Network

__version__ = "0.1.0"
__all__ = ["Network", "network", "network2"]
