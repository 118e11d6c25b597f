// OpenAssistant (oasst1, oasst2) in its flattened published layout: one row
// per message, linked by parent_id into trees whose root is a prompter's
// message. Each root-to-leaf path is a conversation; or, with paths 'best',
// one per tree, following the best-ranked reply (rank 0) at every step.
// Trees need all their rows, so this is the one layout that is not streamed.
import { DataError, type Conversation, type DataLocation, type Message, type Role } from './records';
import { describeValue } from './read_plain';
import { fail, fieldValue, numberValue, requireValue, type RowContext } from './schema_fields';

export interface OasstOptions {
  /** 'all' (default): every root-to-leaf path; 'best': per tree, the path of best-ranked replies. */
  paths?: 'all' | 'best';
  /** Where a bad message goes: thrown by default; the loader counts it when skipping. */
  onBad?: (error: DataError) => void;
}

interface MessageNode {
  id: string;
  parent?: string;
  role: Role;
  text: string;
  /** Lower is better; unranked replies (a lone reply, or one never ranked) sort after ranked ones. */
  rank?: number;
  tree?: string;
  lang?: string;
  at: DataLocation;
  order: number;
  children: MessageNode[];
  bad?: DataError;
}

const ROLES = new Map<unknown, Role>([
  ['prompter', 'user'],
  ['assistant', 'assistant'],
]);

function idText(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

function readNode(row: Record<string, unknown>, ctx: RowContext, order: number): MessageNode {
  const id = idText(requireValue(row, 'message_id', ctx, 'the message id'));
  if (id === undefined) fail(ctx, 'message_id', `expected a message id, got ${describeValue(row.message_id)}`);
  const node: MessageNode = { id, role: 'user', text: '', at: ctx.at, order, children: [] };
  try {
    // CSV has no null: a root's empty parent_id is the same as none.
    node.parent = idText(fieldValue(row, 'parent_id'));
    node.tree = idText(fieldValue(row, 'message_tree_id'));
    const lang = fieldValue(row, 'lang');
    if (typeof lang === 'string' && lang !== '') node.lang = lang;
    node.rank = numberValue(fieldValue(row, 'rank'));
    const role = ROLES.get(fieldValue(row, 'role'));
    if (role === undefined) fail(ctx, 'role', `unknown role ${JSON.stringify(row.role)}; expected "prompter" or "assistant"`);
    node.role = role;
    const text = requireValue(row, 'text', ctx, 'the message text');
    if (typeof text !== 'string') fail(ctx, 'text', `expected the message text as a string, got ${describeValue(text)}`);
    if (text.trim() === '') fail(ctx, 'text', role === 'assistant' ? 'empty reply: the assistant message has no text' : 'empty prompter message');
    node.text = text;
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    node.bad = e;
  }
  return node;
}

function countBelow(node: MessageNode, seen: Set<MessageNode>): number {
  seen.add(node);
  return node.children.reduce((n, c) => (seen.has(c) ? n : n + 1 + countBelow(c, seen)), 0);
}

function byRank(a: MessageNode, b: MessageNode): number {
  return (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.order - b.order;
}

/** Conversations from OpenAssistant message rows; a bad message leaves out itself and the replies below it. */
export function oasstConversations(rows: { at: DataLocation; row: Record<string, unknown> }[], source: string, options: OasstOptions = {}): Conversation[] {
  const onBad =
    options.onBad ??
    ((e: DataError) => {
      throw e;
    });
  const nodes = new Map<string, MessageNode>();
  rows.forEach(({ at, row }, order) => {
    const ctx: RowContext = { at, source, fallbackId: '', jsonText: false };
    let node: MessageNode;
    try {
      node = readNode(row, ctx, order);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      return onBad(e);
    }
    const first = nodes.get(node.id);
    if (first) {
      const where = first.at.line !== undefined ? `line ${first.at.line}` : `row ${first.at.row}`;
      return onBad(new DataError({ ...at, field: 'message_id' }, `duplicate message id "${node.id}", first seen at ${where}`));
    }
    nodes.set(node.id, node);
  });

  const roots: MessageNode[] = [];
  const flag = (node: MessageNode, field: string, problem: string) => (node.bad ??= new DataError({ ...node.at, field }, problem));
  for (const node of nodes.values()) {
    if (node.parent === undefined) {
      roots.push(node);
      if (node.role !== 'user') flag(node, 'role', 'a tree opens with an assistant message; expected the root to be a prompter message');
      continue;
    }
    const parent = nodes.get(node.parent);
    if (!parent) {
      roots.push(node); // an orphan: reported below, with what hangs from it
      flag(node, 'parent_id', `parent message "${node.parent}" is not in the file; expected every reply's parent among the rows`);
      continue;
    }
    parent.children.push(node);
    if (!parent.bad && parent.role === node.role) {
      flag(node, 'role', `a ${node.role === 'user' ? 'prompter' : 'assistant'} message replying to another; expected prompter and assistant turns to alternate`);
    } else if (node.tree !== undefined && parent.tree !== undefined && node.tree !== parent.tree) {
      flag(node, 'message_tree_id', `"${node.tree}" differs from its parent's tree "${parent.tree}"`);
    }
  }
  // A parent_id cycle hangs from no root: every node must be reachable from one.
  const reached = new Set<MessageNode>();
  const reach = (n: MessageNode): void => {
    reached.add(n);
    n.children.forEach(reach);
  };
  roots.forEach(reach);
  const unreached = [...nodes.values()].filter((n) => !reached.has(n));
  for (const node of unreached) {
    node.bad = new DataError({ ...node.at, field: 'parent_id' }, 'its chain of parents loops (a parent_id cycle) and never reaches a root message');
  }
  // Each bad message is reported once: a reachable one with the count of replies it takes along, an unreachable one on its own.
  const topBad = [...nodes.values()].filter((n) => n.bad && (!reached.has(n) || !hasBadAncestor(n, nodes))).sort((a, b) => a.order - b.order);
  for (const node of topBad) {
    const bad = node.bad as DataError;
    const below = reached.has(node) ? countBelow(node, new Set()) : 0;
    onBad(below === 0 ? bad : new DataError(bad.location, `${bad.problem} (the ${below} replies below it are left out too)`));
  }

  const out: Conversation[] = [];
  for (const root of roots.sort((a, b) => a.order - b.order)) {
    if (root.bad) continue;
    const ends = new Set<string>();
    let replied = false;
    const emit = (path: MessageNode[]) => {
      let n = path.length;
      while (n > 0 && path[n - 1].role !== 'assistant') n--; // a prompter's last word has no reply to learn from
      if (n === 0) return;
      replied = true;
      const last = path[n - 1];
      if (ends.has(last.id)) return;
      ends.add(last.id);
      const messages: Message[] = path.slice(0, n).map((m) => ({ role: m.role, content: m.text }));
      const meta: Record<string, unknown> = { tree_id: root.tree ?? root.id };
      if (root.lang !== undefined) meta.lang = root.lang;
      out.push({ kind: 'conversation', messages, source, id: last.id, meta });
    };
    const walk = (node: MessageNode, path: MessageNode[]) => {
      const next = node.children.filter((c) => !c.bad).sort(byRank);
      if (next.length === 0) return emit([...path, node]);
      for (const child of options.paths === 'best' ? next.slice(0, 1) : next) walk(child, [...path, node]);
    };
    walk(root, []);
    if (!replied) onBad(new DataError({ ...root.at, field: 'message_id' }, `a prompt with no assistant reply in tree "${root.tree ?? root.id}"; expected at least one reply`));
  }
  return out;
}

function hasBadAncestor(node: MessageNode, nodes: Map<string, MessageNode>): boolean {
  const seen = new Set<MessageNode>([node]);
  for (let p = nodes.get(node.parent ?? ''); p && !seen.has(p); p = nodes.get(p.parent ?? '')) {
    if (p.bad) return true;
    seen.add(p);
  }
  return false;
}
