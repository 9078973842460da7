/**
 * Debian packages whose man pages become (NAME line, first DESCRIPTION paragraph) pairs: the Linux
 * man-pages project plus everyday command-line tools for files, text, networking, version control,
 * databases, media, mail, backups and system administration, the vocabulary agents' needs use.
 * Generated per-subcommand page sets of cloud CLIs are left out on purpose (DESIGN.md §7: they
 * poison word neighbours). Only man pages and copyright files are unpacked, nothing is installed.
 */
export const MAN_PACKAGES: readonly string[] = [
  'manpages', 'manpages-dev', 'coreutils', 'util-linux', 'util-linux-extra', 'findutils', 'grep', 'sed', 'gawk', 'diffutils', 'patch',
  'tar', 'gzip', 'bzip2', 'xz-utils', 'zstd', 'zip', 'unzip', 'p7zip-full', 'cpio', 'file', 'procps', 'psmisc', 'lsof', 'strace',
  'iproute2', 'iputils-ping', 'net-tools', 'bind9-dnsutils', 'whois', 'traceroute', 'nmap', 'tcpdump', 'netcat-openbsd', 'socat', 'iptables', 'nftables',
  'openssh-client', 'openssh-server', 'curl', 'wget', 'rsync', 'lftp', 'ftp', 'telnet', 'w3m', 'lynx',
  'git-man', 'subversion', 'mercurial-common', 'tig', 'quilt', 'devscripts',
  'postgresql-client-15', 'mariadb-client', 'sqlite3', 'redis-tools', 'memcached', 'mosquitto-clients', 'kcat',
  'jq', 'yq', 'xmlstarlet', 'csvkit', 'miller', 'moreutils', 'bc', 'dc', 'units', 'datamash', 'pandoc', 'groff-base', 'man-db', 'less', 'nano',
  'imagemagick-6.q16', 'graphicsmagick', 'ffmpeg', 'sox', 'lame', 'flac', 'vorbis-tools', 'mpv', 'libimage-exiftool-perl', 'mediainfo', 'optipng', 'jpegoptim', 'webp', 'librsvg2-bin',
  'poppler-utils', 'qpdf', 'pdftk-java', 'ghostscript', 'tesseract-ocr', 'ocrmypdf', 'aspell', 'hunspell', 'enscript', 'a2ps', 'graphviz', 'gnuplot-nox',
  'gnupg', 'openssl', 'pass', 'pwgen', 'apache2-utils', 'apache2', 'nginx-common', 'certbot',
  'mutt', 'neomutt', 'msmtp', 'mailutils', 'fetchmail', 'isync', 'procmail', 'newsboat', 'calcurse', 'remind', 'taskwarrior', 'khal', 'vdirsyncer', 'ledger',
  'cron', 'at', 'systemd', 'sudo', 'passwd', 'adduser', 'login', 'e2fsprogs', 'dosfstools', 'parted', 'fdisk', 'lvm2', 'mdadm', 'nfs-common', 'cifs-utils', 'smbclient', 'sshfs', 'cryptsetup-bin',
  'rsnapshot', 'duplicity', 'restic', 'borgbackup', 'rclone', 's3cmd', 'cups-client', 'cups-bsd',
  'docker.io', 'podman', 'buildah', 'skopeo', 'lxc', 'qemu-utils', 'virtinst', 'libvirt-clients', 'vagrant', 'ansible-core', 'puppet-agent',
  'make', 'cmake', 'gcc-12', 'binutils', 'gdb', 'valgrind', 'universal-ctags', 'shellcheck', 'indent', 'nodejs', 'python3-pip', 'ruby', 'perl', 'golang-1.19-go',
  'tmux', 'screen', 'htop', 'iotop', 'sysstat', 'dstat', 'smartmontools', 'lm-sensors', 'acpi', 'hdparm', 'pciutils', 'usbutils', 'dmidecode',
  'logrotate', 'rsyslog', 'openvpn', 'wireguard-tools', 'network-manager', 'wpasupplicant', 'dnsmasq', 'bind9', 'postfix', 'dovecot-core',
  'youtube-dl', 'yt-dlp', 'aria2', 'transmission-cli', 'irssi', 'weechat-curses', 'finger', 'dict', 'fortune-mod', 'cowsay', 'figlet', 'qrencode', 'zbar-tools',
];
