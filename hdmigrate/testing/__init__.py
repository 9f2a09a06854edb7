"""Test machinery a third-party adapter can import (the contract suite: hdmigrate.testing.contract).
Importing this package needs nothing beyond hdmigrate; the contract module itself needs pytest."""
