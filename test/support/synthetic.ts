/** The seeded synthetic variants live in src/core/synthetic.ts (the bench uses them too); re-exported for tests. */
export * from '../../src/core/synthetic';
