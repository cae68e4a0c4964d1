import { describe, expect, it } from 'vitest';
import { describeError } from './errors';
import i18n from './i18n';

describe('describeError', () => {
  const say = (lang: 'en' | 'zh', error: unknown) => describeError(i18n.getFixedT(lang), error);

  it('translates codes that say it all, and leads known codes with a translation of their kind', () => {
    expect(say('zh', { code: 'wrong_password', message: 'wrong password' })).toBe('密码错误。');
    expect(say('zh', { code: 'not_found', message: 'model "gpt-9" not found' })).toBe('未找到：model "gpt-9" not found');
    expect(say('en', { code: 'already_exists', message: 'Dify app "x" exists' })).toBe('Already exists: Dify app "x" exists');
  });

  it('translates refused redemption codes whole, and leads the org server’s refusals of amounts, apps and decisions', () => {
    expect(say('en', { code: 'redemption_used', message: 'the org server refused: used (redemption_used)' })).toBe('This code has already been redeemed.');
    expect(say('zh', { code: 'redemption_invalid', message: 'no such code' })).toBe('兑换码无效：不存在或已过期。');
    expect(say('en', { code: 'bad_amount', message: '"1e3" is not an amount' })).toBe('The amount was not accepted: "1e3" is not an amount');
    expect(say('zh', { code: 'unpriceable', message: 'no price for gpt-5' })).toBe('服务器无法为其计价：no price for gpt-5');
  });

  it('shows an unknown code with its message, and anything else as it is', () => {
    expect(say('en', { code: 'brand_new', message: 'something new' })).toBe('something new (brand_new)');
    expect(say('zh', new Error('boom'))).toBe('出错了：Error: boom');
  });
});
