// Every evaluation problem that is the caller's to fix (a tokenizer without the
// template's end-of-turn token, replies that do not line up with their tasks,
// an unknown baseline) is an EvalError whose message names the function, the
// model or record at fault, what was expected and what was got.
export class EvalError extends Error {
  override readonly name = 'EvalError';
}
