// Pulumi's `main`: the compiled program (npm install builds dist/ through the prepare script).
export * from '../../dist/infra/pulumi/index.js';
