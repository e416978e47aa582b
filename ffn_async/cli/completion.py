"""``ffn-async completion bash|zsh``: a shell completion script made from the parser itself.

The script holds, for each command path (``token status``, ``outbox replay`` …), the words
that may follow: its subcommands, or its options and the choices of its positional argument.
It is generated from :func:`~ffn_async.cli.app.build_parser`, so it never lists a command
that does not exist; zsh runs the same script through ``bashcompinit``.
"""

from __future__ import annotations

import argparse
import shlex

__all__ = ["SHELLS", "script", "words_by_command"]

SHELLS = ("bash", "zsh")

_BASH = """\
# ffn-async completion for {shell}: eval "$(ffn-async completion {shell})"
{preamble}_ffn_async() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in -*) continue ;; esac
        case " $(_ffn_async_words "$path") " in
            *" $word "*) path="${{path:+$path }}$word" ;;
        esac
    done
    COMPREPLY=($(compgen -W "$(_ffn_async_words "$path")" -- "$cur"))
}}
_ffn_async_words() {{
    case "$1" in
{cases}
    esac
}}
complete -F _ffn_async ffn-async
"""
_ZSH_PREAMBLE = "autoload -U +X bashcompinit && bashcompinit\n"


def words_by_command(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """``{"": [...], "token": [...], "token status": [...]}``: what may follow each path."""
    table: dict[str, list[str]] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        words: list[str] = []
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    words.append(name)
                    walk(child, f"{path} {name}".strip())
            elif action.option_strings:
                words += [o for o in action.option_strings if o.startswith("--")]
            elif action.choices:
                words += [str(choice) for choice in action.choices]
        table[path] = words

    walk(parser, "")
    return table


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`)."""
    cases = "\n".join(
        f"        {shlex.quote(path)}) echo {shlex.quote(' '.join(words))} ;;"
        for path, words in sorted(words_by_command(parser).items())
    )
    preamble = _ZSH_PREAMBLE if shell == "zsh" else ""
    return _BASH.format(shell=shell, preamble=preamble, cases=cases)
