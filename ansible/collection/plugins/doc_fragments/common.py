# -*- coding: utf-8 -*-
# What fleetcmd.fleet.send and fleetcmd.fleet.run share: the fleetcmd binary, the TLS options (fleetcmd's --tls
# flags), the login password, and the notes.
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  fleetcmd:
    description: Path of the fleetcmd binary. Default, C(fleetcmd) from C(PATH).
    type: path
  tls:
    description:
      - Talk TLS to the devices, verifying their certificates (system trust store, or O(ca_file)).
      - Any other TLS option turns TLS on too.
    type: bool
    default: false
  ca_file:
    description: PEM file of the CA(s) to trust instead of the system store.
    type: path
  servername:
    description: Name to send (SNI) and check the certificate against. Default, the host connected to.
    type: str
  pin:
    description: Accept devices whose key has one of these pins (C(sha256:BASE64) from C(fleetcmd tls pin)).
    type: list
    elements: str
  cert:
    description: Client certificate (PEM) for mutual TLS.
    type: path
  key:
    description: Private key (PEM) of O(cert).
    type: path
  insecure:
    description: Do not check the devices' certificates at all (encrypted but unauthenticated).
    type: bool
    default: false
  password:
    description:
      - Password for devices whose preset logs in (PJLink). Inventory C(fleetcmd_password) wins for C(run).
    type: str
notes:
  - Supports check mode.
  - Per-group TLS settings and passwords in the inventory (C(fleetcmd_tls), C(fleetcmd_ca_file), C(fleetcmd_pin),
    C(fleetcmd_password), ...) are read by C(fleetcmd run) itself; see docs/tls.md and docs/devices.md.
"""
