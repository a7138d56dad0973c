// Meta's SDK ships no type declarations.
declare module 'facebook-nodejs-business-sdk';
