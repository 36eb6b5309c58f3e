#!/usr/bin/python3
"""One SSH login against the test sshd, driven by paramiko.

Answers keyboard-interactive prompts from the command line (`--password`,
`--code`, `--new-password` when an expired password must be changed), optionally authenticates with a private key first
(publickey,keyboard-interactive), runs one command and prints a JSON object:
{"ok": bool, "prompts": [...], "stdout": str, "exit": int|null, "error": str|null}.
Unexpected prompts are answered with nothing and reported, so a test sees
exactly what sshd (and so pam_iam) asked.

Run with /usr/bin/python3 (Debian's python3-paramiko).
"""

import argparse
import json
import socket
import sys

import paramiko


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password")
    ap.add_argument("--code")
    ap.add_argument("--new-password", help="answer for an expired password's change")
    ap.add_argument("--key", help="private key file for publickey first")
    ap.add_argument("--command", default="id")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    result = {"ok": False, "prompts": [], "stdout": "", "exit": None, "error": None}

    def handler(_title, _instructions, prompts):
        answers = []
        for text, _echo in prompts:
            result["prompts"].append(text)
            # sshd puts PAM's pending messages in front of the prompt.
            t = text.strip().splitlines()[-1] if text.strip() else ""
            if t.startswith(("Password", "Current password")) and args.password is not None:
                answers.append(args.password)
            elif t.startswith(("New password", "Retype new password")) and args.new_password:
                answers.append(args.new_password)
            elif t.startswith("Verification code") and args.code is not None:
                answers.append(args.code)
            else:
                answers.append("")
        return answers

    sock = None
    transport = None
    try:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = args.timeout
        transport.auth_timeout = args.timeout
        transport.start_client(timeout=args.timeout)
        if args.key:
            key = paramiko.Ed25519Key.from_private_key_file(args.key)
            remaining = transport.auth_publickey(args.user, key)
            if "keyboard-interactive" not in remaining and not transport.is_authenticated():
                raise paramiko.AuthenticationException("publickey did not lead to keyboard-interactive")
        if not transport.is_authenticated():
            transport.auth_interactive(args.user, handler)
        chan = transport.open_session(timeout=args.timeout)
        chan.settimeout(args.timeout)
        chan.exec_command(args.command)
        out = b""
        while True:
            data = chan.recv(65536)
            if not data:
                break
            out += data
        result["exit"] = chan.recv_exit_status()
        result["stdout"] = out.decode("utf-8", "replace")
        result["ok"] = result["exit"] == 0
    except Exception as e:  # noqa: BLE001 - every failure is a result to report
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        if transport is not None:
            transport.close()
        if sock is not None:
            sock.close()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
