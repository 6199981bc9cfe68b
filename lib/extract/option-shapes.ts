import ts from "./typescript.cjs";

/**
 * The option names an object parameter of a library class accepts, and the types of
 * their values (for nested option objects). `open` when any name is allowed (an index
 * signature, or a mapped type over the record's fields that only the call could resolve).
 */
export type OptionShape = { readonly open: true } | { readonly open: false; readonly keys: ReadonlyMap<string, readonly ts.Type[]> };

/**
 * Reads option shapes from the library's declared signatures, not from the user's calls:
 * resolving a call (`new OlapTable<Row>(name, { ... })`) instantiates the generic
 * config types for every table, which is most of what a full type-check of an app
 * costs; the declared parameter types are the same for every call and are read once.
 * This is what lets planning skip type-checking the app and still refuse a misspelt
 * option instead of ignoring it.
 */
export class OptionShapes {
  private readonly byType = new Map<ts.Type, OptionShape | undefined>();
  private readonly byParameter = new Map<ts.Symbol, Map<number, OptionShape | undefined>>();

  constructor(private readonly checker: ts.TypeChecker) {}

  /**
   * The shape of argument `index` of a library constructor or static factory.
   * `callee` is the library symbol of the class (for `new`) or of the factory method.
   */
  ofArgument(callee: ts.Symbol, kind: "construct" | "call", index: number): OptionShape | undefined {
    let perIndex = this.byParameter.get(callee);
    if (!perIndex) this.byParameter.set(callee, (perIndex = new Map()));
    if (perIndex.has(index)) return perIndex.get(index);
    const type = this.checker.getTypeOfSymbol(callee);
    const signatures = kind === "construct" ? type.getConstructSignatures() : type.getCallSignatures();
    const types: ts.Type[] = [];
    for (const signature of signatures) {
      const parameter = signature.getParameters()[index];
      if (parameter) types.push(this.checker.getTypeOfSymbol(parameter));
    }
    const shape = types.length > 0 ? this.ofTypes(types) : undefined;
    perIndex.set(index, shape);
    return shape;
  }

  /** The shape of an option whose value is an object literal, from the types its key allows. */
  ofTypes(types: readonly ts.Type[]): OptionShape | undefined {
    const keys = new Map<string, ts.Type[]>();
    let objects = 0;
    for (const type of types) {
      const shape = this.ofType(type);
      if (!shape) continue;
      objects++;
      if (shape.open) return shape;
      for (const [key, valueTypes] of shape.keys) {
        const into = keys.get(key);
        if (into) into.push(...valueTypes);
        else keys.set(key, [...valueTypes]);
      }
    }
    return objects === 0 ? undefined : { open: false, keys };
  }

  private ofType(type: ts.Type): OptionShape | undefined {
    if (this.byType.has(type)) return this.byType.get(type);
    let shape: OptionShape | undefined;
    if (type.isUnion()) {
      shape = this.ofTypes(type.types);
    } else if (type.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) {
      const properties = this.checker.getPropertiesOfType(type);
      if (this.checker.getIndexInfosOfType(type).length > 0 || properties.length === 0) {
        shape = { open: true };
      } else {
        const keys = new Map<string, ts.Type[]>();
        for (const p of properties) keys.set(p.name, [this.checker.getTypeOfSymbol(p)]);
        shape = { open: false, keys };
      }
    }
    this.byType.set(type, shape);
    return shape;
  }
}
