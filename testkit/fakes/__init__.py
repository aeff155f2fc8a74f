"""Loopback fakes of the remote services ftk talks to, driven by the real SDK clients."""
