/**
 * Shell completion scripts for bash, zsh and fish, generated from the command tree itself (every
 * command, subcommand and option commander knows), so they never go stale. Each script finds
 * the command path typed so far (`torc jobs list`) and offers its subcommands and options.
 */
import type { Command } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** Space-separated command path below the program: '' for the program, 'jobs list'. */
  path: string;
  subcommands: { name: string; description: string }[];
  options: { flag: string; description: string }[];
}

function walk(cmd: Command, path: string, out: Node[]): Node[] {
  const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  out.push({
    path,
    subcommands: visible.map((c) => ({ name: c.name(), description: c.description() })),
    options: [
      ...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)).map((flag) => ({ flag, description: o.description }))),
      { flag: '--help', description: 'display help' },
    ],
  });
  for (const c of visible) walk(c, path ? `${path} ${c.name()}` : c.name(), out);
  return out;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

function bash(prog: string, nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    ${quote(n.path)}) words=${quote([...n.subcommands.map((s) => s.name), ...n.options.map((o) => o.flag)].join(' '))} ;;`)
    .join('\n');
  const known = nodes.map((n) => n.path).filter(Boolean);
  return `# ${prog} completion for bash: source <(${prog} completions bash)
_${prog}_completions() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" next w k i words=""
  local -a known=(${known.map(quote).join(' ')})
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    next="\${path:+$path }$w"
    for k in "\${known[@]}"; do [[ "$k" == "$next" ]] && { path="$next"; break; }; done
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _${prog}_completions ${prog}
`;
}

function zsh(prog: string, nodes: Node[]): string {
  const cases = nodes
    .map((n) => {
      const subs = n.subcommands.map((s) => quote(`${s.name}:${s.description.replaceAll(':', '\\:')}`)).join(' ');
      const opts = n.options.map((o) => quote(`${o.flag}:${o.description.replaceAll(':', '\\:')}`)).join(' ');
      return `    ${quote(n.path)}) subs=(${subs}); opts=(${opts}) ;;`;
    })
    .join('\n');
  const known = nodes.map((n) => n.path).filter(Boolean);
  return `#compdef ${prog}
# ${prog} completion for zsh: source <(${prog} completions zsh)
_${prog}() {
  local path="" w i
  local -a subs opts known
  known=(${known.map(quote).join(' ')})
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    [[ "$w" == -* ]] && continue
    if (( \${known[(Ie)\${path:+$path }$w]} )); then path="\${path:+$path }$w"; fi
  done
  case "$path" in
${cases}
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then _describe -t options 'option' opts; else _describe -t commands 'command' subs; fi
}
compdef _${prog} ${prog}
`;
}

function fish(prog: string, nodes: Node[]): string {
  const lines = [`# ${prog} completion for fish: ${prog} completions fish | source`, `complete -c ${prog} -f`];
  lines.push(
    `function __${prog}_path
    set -l path
    for w in (commandline -opc)[2..-1]
        string match -q -- '-*' $w; and continue
        set -l next (string join ' ' $path $w)
        if contains -- $next ${nodes.map((n) => n.path).filter(Boolean).map(quote).join(' ')}
            set path $path $w
        end
    end
    string join ' ' $path
end
function __${prog}_path_is
    set -l p (__${prog}_path)
    test "$p" = "$argv[1]"
end`,
  );
  for (const n of nodes) {
    const cond = quote(`__${prog}_path_is ${quote(n.path)}`);
    for (const s of n.subcommands) lines.push(`complete -c ${prog} -n ${cond} -a ${quote(s.name)} -d ${quote(s.description)}`);
    for (const o of n.options) {
      const opt = o.flag.startsWith('--') ? `-l ${o.flag.slice(2)}` : `-s ${o.flag.slice(1)}`;
      lines.push(`complete -c ${prog} -n ${cond} ${opt} -d ${quote(o.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  const nodes = walk(program, '', []);
  const prog = program.name();
  return shell === 'bash' ? bash(prog, nodes) : shell === 'zsh' ? zsh(prog, nodes) : fish(prog, nodes);
}
