# -*- coding: utf-8 -*-
# What the fleetcmd modules share: the options that map to fleetcmd flags, and finding the binary.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

COMMON_ARGUMENT_SPEC = dict(
    commands=dict(type="list", elements="str", required=True),
    preset=dict(type="str", default="esc-cr"),
    connect_timeout=dict(type="str", default="5s"),
    reply_timeout=dict(type="str", default="10s"),
    retries=dict(type="int", default=2),
    stop_on_error=dict(type="bool", default=False),
    fleetcmd=dict(type="path"),
    tls=dict(type="bool", default=False),
    ca_file=dict(type="path"),
    servername=dict(type="str"),
    pin=dict(type="list", elements="str"),
    cert=dict(type="path"),
    key=dict(type="path", no_log=False),
    insecure=dict(type="bool", default=False),
    password=dict(type="str", no_log=True),
)


def fleetcmd_binary(module):
    """The fleetcmd executable: the fleetcmd option, else fleetcmd on PATH (the task fails when there is none)."""
    return module.params["fleetcmd"] or module.get_bin_path("fleetcmd", required=True)


def common_flags(params):
    """fleetcmd run flags for the shared options."""
    flags = ["--no-progress", "--format", "json", "--preset", params["preset"],
             "--connect-timeout", params["connect_timeout"], "--reply-timeout", params["reply_timeout"],
             "--retries", str(params["retries"])]
    if params["stop_on_error"]:
        flags.append("--stop-on-error")

    return flags + tls_flags(params)


def tls_flags(params):
    """fleetcmd's --tls flags for the TLS options."""
    flags = ["--tls"] if params["tls"] else []
    for option, flag in (("ca_file", "--ca-file"), ("servername", "--servername"), ("cert", "--cert"),
                         ("key", "--key")):
        if params[option]:
            flags += [flag, params[option]]
    for pin in params["pin"] or []:
        flags += ["--pin", pin]
    if params["insecure"]:
        flags.append("--insecure")
    return flags


def fleetcmd_environment(params):
    """Environment for fleetcmd: the password goes through FLEETCMD_PASSWORD, never the command line (ps shows it)."""
    return {"FLEETCMD_PASSWORD": params["password"]} if params["password"] else {}
