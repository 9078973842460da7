/**
 * What is specific to the lexical pieces: the tokenizer's splitting, stemming and stoplists, the
 * BM25F field weights, stemming and conversational stoplist at work, and tool document extraction.
 */
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../src/index/lexical/bm25.js';
import { Bm25fIndex } from '../src/index/lexical/bm25f.js';
import { schemaTerms, toolDocument } from '../src/index/lexical/document.js';
import { tokenize, words } from '../src/index/lexical/tokenize.js';

const plain = { stem: false, stopwords: 'none' } as const;

describe('tokenize', () => {
  it('splits camelCase, PascalCase, snake, kebab, dotted, slashed and colon names', () => {
    expect(words('getUserById')).toEqual(['get', 'user', 'by', 'id', 'getuserbyid']);
    expect(words('HTTPServer')).toEqual(['http', 'server', 'httpserver']);
    expect(tokenize('create_pull_request', plain)).toEqual(['create', 'pull', 'request']);
    expect(tokenize('list-open-issues', plain)).toEqual(['list', 'open', 'issues']);
    expect(tokenize('github.search_code', plain)).toEqual(['github', 'search', 'code']);
    expect(tokenize('fs/read:file', plain)).toEqual(['fs', 'read', 'file']);
  });

  it('keeps product-like letter-digit tokens whole and joined brand names findable', () => {
    expect(tokenize('s3Bucket', plain)).toEqual(['s3', 'bucket', 's3bucket']);
    expect(tokenize('list_ec2_instances on k8s', plain)).toEqual(['list', 'ec2', 'instances', 'on', 'k8s']);
    expect(tokenize('GitHub', plain)).toContain('github');
    expect(tokenize('sha256 base64', { stem: true, stopwords: 'conversational' })).toEqual(['sha256', 'base64']);
  });

  it('keeps plural acronyms whole and drops contraction clitics', () => {
    expect(tokenize('URLs', plain)).toEqual(['urls']);
    expect(words('getUserIDs')).toEqual(['get', 'user', 'ids', 'getuserids']);
    expect(tokenize("I'd like the user's repos", plain)).toEqual(['i', 'like', 'the', 'user', 'repos']);
  });

  it('lowercases and strips punctuation', () => {
    expect(tokenize('Read FILE, now!', plain)).toEqual(['read', 'file', 'now']);
    expect(tokenize('  ...  ', plain)).toEqual([]);
  });

  it('stems with Porter2 when asked', () => {
    expect(tokenize('searching repositories', { stem: true, stopwords: 'none' })).toEqual(['search', 'repositori']);
    expect(tokenize('searching', { stem: false, stopwords: 'none' })).toEqual(['searching']);
  });

  it('applies the small and the conversational stoplists', () => {
    const text = 'Please could you get me the weather for Paris';
    expect(tokenize(text, { stem: false, stopwords: 'none' })).toHaveLength(9);
    expect(tokenize(text, { stem: false, stopwords: 'small' })).toEqual([
      'please',
      'could',
      'you',
      'get',
      'me',
      'weather',
      'paris',
    ]);
    expect(tokenize(text, { stem: false, stopwords: 'conversational' })).toEqual(['weather', 'paris']);
    // Weak operation verbs stay: they separate list_x from search_x from find_x.
    expect(tokenize('find list search show', { stem: false, stopwords: 'conversational' })).toEqual([
      'find',
      'list',
      'search',
      'show',
    ]);
  });
});

describe('Bm25fIndex', () => {
  it('weighs a name match above the same term in a parameter description only', () => {
    const index = new Bm25fIndex();
    index.upsert({
      id: 'a/archive_record',
      fields: { name: 'archive_record', description: 'Moves a record out of the active set', params: 'record_id' },
    });
    index.upsert({
      id: 'b/move_record',
      fields: {
        name: 'move_record',
        description: 'Moves a record out of the active set',
        params: 'record_id',
        paramDescriptions: 'archive to use',
      },
    });
    expect(index.search('archive', 2).map((h) => h.id)).toEqual(['a/archive_record', 'b/move_record']);
  });

  it('stemming lets "searching repositories" match search_repos', () => {
    const docs = [
      {
        id: 'github/search_repos',
        fields: { name: 'search_repos', description: 'Search GitHub for a repository by keyword' },
      },
      { id: 'github/list_commits', fields: { name: 'list_commits', description: 'List commits of a branch' } },
    ];
    const stemmed = new Bm25fIndex();
    const unstemmed = new Bm25fIndex({ stem: false });
    for (const d of docs) {
      stemmed.upsert(d);
      unstemmed.upsert(d);
    }
    expect(stemmed.search('searching repositories', 5).map((h) => h.id)).toEqual(['github/search_repos']);
    expect(unstemmed.search('searching repositories', 5)).toEqual([]);
  });

  it('the conversational stoplist makes a polite need equal the bare need', () => {
    const index = new Bm25fIndex();
    index.upsert({
      id: 'w/forecast',
      fields: { name: 'get_forecast', description: 'Weather forecast for a city', params: 'city' },
    });
    index.upsert({
      id: 'w/alerts',
      fields: { name: 'get_alerts', description: 'Weather alerts for a US state', params: 'state' },
    });
    index.upsert({
      id: 'fs/find_files',
      fields: { name: 'find_files', description: 'Find files whose names match a pattern', params: 'pattern' },
    });
    const bare = index.search('find weather forecast Paris', 5);
    expect(bare[0]?.id).toBe('w/forecast');
    expect(index.search('Please could you help me find the weather forecast for Paris? I want to use it', 5)).toEqual(
      bare,
    );
    // The reference stoplist keeps those words, so the polite phrasing scores differently there.
    expect(new Bm25fIndex({ stopwords: 'small' }).search('please help me', 5)).toEqual([]);
  });

  it('matches products named in the server field', () => {
    const index = new Bm25fIndex();
    index.upsert({
      id: 'github/create_issue',
      fields: { name: 'create_issue', description: 'Create an issue', server: 'github\nGitHub API' },
    });
    index.upsert({
      id: 'jira/create_issue',
      fields: { name: 'create_issue', description: 'Create an issue', server: 'jira\nAtlassian Jira' },
    });
    expect(index.search('create an issue on GitHub', 2)[0]?.id).toBe('github/create_issue');
    expect(index.search('open a jira ticket issue', 2)[0]?.id).toBe('jira/create_issue');
  });

  it('a zero weight drops a field', () => {
    const index = new Bm25fIndex({ weights: { paramDescriptions: 0 } });
    index.upsert({ id: 'x', fields: { name: 'move_record', paramDescriptions: 'archive' } });
    expect(index.search('archive', 5)).toEqual([]);
  });

  it('rejects parameters that would break ranking', () => {
    expect(() => new Bm25fIndex({ weights: { name: -1 } })).toThrow(RangeError);
    expect(() => new Bm25fIndex({ b: 2 })).toThrow(RangeError);
    expect(() => new Bm25Index({ k1: -1 })).toThrow(RangeError);
  });
});

describe('Bm25Index (reference)', () => {
  it('ignores fields outside name, description and parameter names', () => {
    const index = new Bm25Index();
    index.upsert({
      id: 'x',
      fields: { name: 'move_record', server: 'archive', paramDescriptions: 'archive', title: 'Archive' },
    });
    expect(index.search('archive', 5)).toEqual([]);
    expect(index.search('record', 5).map((h) => h.id)).toEqual(['x']);
  });
});

describe('toolDocument', () => {
  const schema = {
    type: 'object',
    description: 'Arguments',
    properties: {
      owner: { type: 'string', description: 'Repository owner' },
      filter: {
        type: 'object',
        properties: {
          state: { type: 'string', enum: ['open', 'closed', 'merged'], description: 'Issue state' },
          labels: {
            type: 'array',
            items: { type: 'object', properties: { labelName: { type: 'string', description: 'A label' } } },
          },
        },
      },
      target: {
        anyOf: [
          { type: 'object', properties: { branchName: { type: 'string' } } },
          {
            type: 'object',
            properties: { tagName: { type: 'string' }, owner: { type: 'string', description: 'Repository owner' } },
          },
        ],
      },
      ref: { $ref: '#/$defs/Ref' },
    },
    $defs: { Ref: { type: 'object', properties: { sha: { type: 'string', description: 'Commit SHA' } } } },
  };

  it('extracts nested parameter names (deduplicated) and their descriptions and enum values', () => {
    const terms = schemaTerms(schema);
    // Depth-first, in declaration order; `sha` comes from $defs (reached without resolving $ref).
    expect(terms.params).toEqual([
      'owner',
      'filter',
      'state',
      'labels',
      'labelName',
      'target',
      'branchName',
      'tagName',
      'ref',
      'sha',
    ]);
    expect(terms.descriptions).toEqual(
      expect.arrayContaining(['Repository owner', 'Issue state', 'open', 'closed', 'merged', 'A label', 'Commit SHA']),
    );
    expect(terms.descriptions.filter((d) => d === 'Repository owner')).toHaveLength(1);
  });

  it('fills every field of the document', () => {
    const doc = toolDocument({
      id: 'github/list_issues',
      server: 'github',
      serverDescription: 'GitHub API',
      tool: {
        name: 'list_issues',
        title: 'List issues',
        description: 'List issues in a repository',
        inputSchema: schema,
      },
      examples: ['show open bugs', '  ', 'what issues are open'],
    });
    expect(doc.id).toBe('github/list_issues');
    expect(doc.fields.name).toBe('list_issues');
    expect(doc.fields.title).toBe('List issues');
    expect(doc.fields.description).toBe('List issues in a repository');
    expect(doc.fields.params?.split(' ')).toContain('labelName');
    expect(doc.fields.paramDescriptions).toContain('merged');
    expect(doc.fields.server).toBe('github\nGitHub API');
    expect(doc.fields.examples).toBe('show open bugs\nwhat issues are open');
  });

  it('is robust to missing, odd and cyclic schemas', () => {
    for (const inputSchema of [
      undefined,
      null,
      'object',
      42,
      [],
      { properties: [] },
      { properties: { a: null, b: 'x' } },
      { anyOf: 'no' },
    ]) {
      expect(() => toolDocument({ id: 'x', server: 's', tool: { name: 't', inputSchema } })).not.toThrow();
    }
    const cyclic: Record<string, unknown> = { type: 'object', properties: {} };
    (cyclic.properties as Record<string, unknown>).self = cyclic;
    expect(schemaTerms(cyclic).params).toEqual(['self']);
    const bare = toolDocument({ id: 'x', server: 's', tool: { name: 't' } });
    expect(bare.fields).toEqual({ name: 't', server: 's' });
  });
});
