// antd's date pickers format month and weekday names through dayjs, whose language follows the window's.
// Imported by the screens with a date picker, so the windows without one load no dayjs.
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import i18n from './i18n';

const follow = (lang: string) => dayjs.locale(lang === 'zh' ? 'zh-cn' : 'en');
follow(i18n.language);
i18n.on('languageChanged', follow);
