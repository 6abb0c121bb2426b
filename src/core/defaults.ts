/** Defaults merged with caller options, where an option given as undefined means "use the default". */
export function withDefaults<T extends object>(defaults: Readonly<T>, options: Partial<T> = {}): T {
  const given = Object.entries(options).filter(([, v]) => v !== undefined);
  return { ...defaults, ...Object.fromEntries(given) } as T;
}
