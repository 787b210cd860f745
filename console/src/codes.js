// codes: names of the side codes (GB/T 2260) of the sample agreements, for
// an agreement that does not name its sides (home_name, host_name).
const names = {
  '330802': { 'zh-CN': '衢州市柯城区财政局', en: 'Kecheng District Finance Bureau, Quzhou' },
  '330110': { 'zh-CN': '杭州市余杭区财政局', en: 'Yuhang District Finance Bureau, Hangzhou' },
  '331181': { 'zh-CN': '丽水市龙泉市财政局', en: 'Longquan City Finance Bureau, Lishui' },
  '330109': { 'zh-CN': '杭州市萧山区财政局', en: 'Xiaoshan District Finance Bureau, Hangzhou' },
  '330803': { 'zh-CN': '衢州市衢江区财政局', en: 'Qujiang District Finance Bureau, Quzhou' },
  '330212': { 'zh-CN': '宁波市鄞州区财政局', en: 'Yinzhou District Finance Bureau, Ningbo' },
  '330824': { 'zh-CN': '衢州市开化县财政局', en: 'Kaihua County Finance Bureau, Quzhou' },
  '330483': { 'zh-CN': '嘉兴市桐乡市财政局', en: 'Tongxiang City Finance Bureau, Jiaxing' },
};

// The name of side ('home' or 'host') of agreement a in language lang.
export function sideName(a, side, lang) {
  const given = a[`${side}_name`];
  const code = a[side];
  if (given && lang === 'zh-CN') return given;
  return names[code]?.[lang] ?? given ?? code;
}
