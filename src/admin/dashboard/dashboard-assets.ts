// The dashboard's files, served from the package itself: nothing is fetched from outside, so the page
// works offline. The page, its script and style sit in assets/ beside this file's source; tsc copies
// no such files, so they are read from the source tree (dist/src/admin/dashboard/ mirrors
// src/admin/dashboard/, four levels below the package root), and the package ships that folder.
// uPlot comes from its npm package, resolved as Node resolves it from here. Files are read once, when
// the admin port starts, so a missing file stops the coordinator at start, not a page later.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AdminAnswerRoute, AdminResponse } from '../admin-server.js';

const assetsDirectory = new URL('../../../../src/admin/dashboard/assets/', import.meta.url);
const resolveFromHere = createRequire(import.meta.url).resolve;

/**
 * The page runs only its own files and talks only to this port; every string it shows is set as
 * text, and this policy is the second line: an injected tag could load or run nothing.
 */
const pagePolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const pageHeaders = { 'Content-Security-Policy': pagePolicy, 'X-Content-Type-Options': 'nosniff' };

interface Asset {
  readonly path: string;
  readonly file: string;
  readonly contentType: string;
}

function assetFiles(): Asset[] {
  const own = (name: string) => fileURLToPath(new URL(name, assetsDirectory));
  return [
    { path: '/', file: own('index.html'), contentType: 'text/html; charset=utf-8' },
    { path: '/dashboard.js', file: own('dashboard.js'), contentType: 'text/javascript; charset=utf-8' },
    { path: '/dashboard.css', file: own('dashboard.css'), contentType: 'text/css; charset=utf-8' },
    {
      path: '/uplot.js',
      file: resolveFromHere('uplot/dist/uPlot.iife.min.js'),
      contentType: 'text/javascript; charset=utf-8',
    },
    {
      path: '/uplot.css',
      file: resolveFromHere('uplot/dist/uPlot.min.css'),
      contentType: 'text/css; charset=utf-8',
    },
  ];
}

export function dashboardAssetRoutes(): AdminAnswerRoute[] {
  return assetFiles().map(({ path, file, contentType }) => {
    const response: AdminResponse = {
      status: 200,
      contentType,
      body: readFileSync(file, 'utf8'),
      headers: pageHeaders,
    };
    return { path, get: () => response };
  });
}
