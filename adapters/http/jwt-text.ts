const isBase64Url = (code: number): boolean =>
  (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x5f || code === 0x2d;

/**
 * Whether a text holds a JSON Web Token in compact form (three base64url parts, the first a JSON header, `eyJ…`),
 * whatever surrounds it (`Bearer <jwt>`): what `/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\/` finds, in one
 * pass over the text. That regex backtracks from every `eyJ` of a long run with no dot: quadratic (review 48).
 */
export const holdsJwtText = (text: string): boolean => {
  // Whether the current run of base64url characters follows the dot after a run holding `eyJ` (the first part).
  let afterDot = false;
  let runHasHeader = false;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isBase64Url(code)) {
      run++;
      if (!afterDot && !runHasHeader && run >= 3 && code === 0x4a && text.charCodeAt(i - 1) === 0x79 && text.charCodeAt(i - 2) === 0x65) runHasHeader = true;
      continue;
    }
    if (code === 0x2e && afterDot && run > 0) return true;
    if (code === 0x2e && !afterDot && runHasHeader) {
      afterDot = true;
    } else {
      afterDot = false;
    }
    runHasHeader = false;
    run = 0;
  }
  return false;
};
