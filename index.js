// n8n loads this package's nodes and credentials from the "n8n" block of package.json;
// this file only exists so that `require('n8n-nodes-promptlab')` resolves.
module.exports = {};
