# Runs at install time (`cmake --install`, cpack), from install(CODE) in
# packaging/install.cmake, so that every path follows the prefix given then
# (`--prefix /usr` on a tree configured for /usr/local, or cpack's /usr):
# the unit names the binary and config that the same install puts in place.
#
# In: HSB_SOURCE_DIR, HSB_BINARY_DIR, HSB_SBINDIR, HSB_SYSCONFDIR,
# HSB_UNIT_DIR, HSB_SYSUSERS_DIR (as configured; relative ones are under
# the prefix) and CMAKE_INSTALL_PREFIX (the install-time prefix).

function(hsb_under_prefix out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

# GNUInstallDirs' rule: /etc for the /usr prefix, <prefix>/etc otherwise.
if(IS_ABSOLUTE "${HSB_SYSCONFDIR}")
  set(sysconfdir "${HSB_SYSCONFDIR}")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
  set(sysconfdir "/${HSB_SYSCONFDIR}")
else()
  set(sysconfdir "${CMAKE_INSTALL_PREFIX}/${HSB_SYSCONFDIR}")
endif()
set(HSB_CONFDIR "${sysconfdir}/hsbridge")
hsb_under_prefix(HSB_SBIN "${HSB_SBINDIR}")
hsb_under_prefix(unit_dir "${HSB_UNIT_DIR}")
hsb_under_prefix(sysusers_dir "${HSB_SYSUSERS_DIR}")

set(staging "${HSB_BINARY_DIR}/install-time")
file(MAKE_DIRECTORY "${staging}")
# etc/hsbridge.service names the .deb's paths (/usr/sbin, /etc/hsbridge);
# any other prefix gets its own.
# Paths a unit cannot carry as they are (systemd splits at white space and
# expands % and $) are refused rather than written wrong.
foreach(path "${HSB_SBIN}" "${HSB_CONFDIR}")
  if(path MATCHES "[ \t\n%$\"'\\;]")
    message(FATAL_ERROR "hsbridge.service cannot name \"${path}\": choose a prefix without "
                        "white space, quotes, backslashes, ';', '%' or '$'")
  endif()
endforeach()
file(READ "${HSB_SOURCE_DIR}/etc/hsbridge.service" unit)
# Through placeholders, so that one replacement cannot rewrite the other's
# result (a prefix holding "/etc/hsbridge/").
string(REPLACE "/usr/sbin/hsbridge " "<hsb-sbin>/hsbridge " unit "${unit}")
string(REPLACE "/etc/hsbridge/" "<hsb-confdir>/" unit "${unit}")
string(REPLACE "<hsb-sbin>" "${HSB_SBIN}" unit "${unit}")
string(REPLACE "<hsb-confdir>" "${HSB_CONFDIR}" unit "${unit}")
if(NOT HSB_SBIN STREQUAL "/usr/sbin" OR NOT HSB_CONFDIR STREQUAL "/etc/hsbridge")
  string(REPLACE "The paths are the .deb's (/usr/sbin,\n# /etc/hsbridge): `cmake --install` with another prefix writes that\n# prefix's paths instead."
         "The paths are this install's (${HSB_SBIN},\n# ${HSB_CONFDIR}), written by `cmake --install`."
         unit "${unit}")
endif()
file(WRITE "${staging}/hsbridge.service" "${unit}")

# The installed example config is the repository's demo config with a
# header for where it now lives, and its secret from the environment
# (hsbridge.env) instead of the demo secret file, which is not installed.
file(READ "${HSB_SOURCE_DIR}/etc/hsbridge.conf" conf)
string(FIND "${conf}" "\n\n" header_end)
set(demo_secret "secret_file = \"demo-webhook.secret\";")
string(FIND "${conf}" "${demo_secret}" secret_at)
if(header_end LESS 0 OR secret_at LESS 0)
  message(FATAL_ERROR "etc/hsbridge.conf: no header block or no '${demo_secret}' line: "
                      "update packaging/install-time.cmake with it")
endif()
math(EXPR body_at "${header_end} + 2")
string(SUBSTRING "${conf}" ${body_at} -1 body)
string(REPLACE "${demo_secret}" "secret_env = \"DEMO_WEBHOOK_SECRET\";  # from hsbridge.env"
       body "${body}")
file(WRITE "${staging}/hsbridge.conf"
"# hsbridge configuration (libconfig syntax); every key: man hsbridge.conf.
#
# An example to replace with your own: one subscription, \"demo\", that POSTs
# to a receiver on 127.0.0.1:8085, signed with the secret in the variable
# DEMO_WEBHOOK_SECRET (a line of ${HSB_CONFDIR}/hsbridge.env).
#
# Check it with:   hsbridge -c ${HSB_CONFDIR}/hsbridge.conf check
# hsbridge.service runs that check before every start and reload.
# Unknown keys are errors; every error names this file and the line.
#
# Permissions: this folder and file are root:hsbridge (0750, 0640), so the
# service reads them and no one else. A file that holds a secret (a
# secret_file; this file with an inline secret or a broker password) must be
# readable by the service user only: owned by hsbridge, mode 0600. The
# bridge warns about one that group or others can read.
# Relative file names (secret_file) are relative to this file's folder.

${body}")

file(INSTALL "${staging}/hsbridge.service" DESTINATION "${unit_dir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${HSB_SOURCE_DIR}/etc/hsbridge.sysusers" DESTINATION "${sysusers_dir}"
     RENAME hsbridge.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# The .deb's postinst gives them to group hsbridge (dpkg-statoverride). An
# install over an existing config keeps it and puts the example beside it.
foreach(name hsbridge.conf hsbridge.env)
  if(name STREQUAL "hsbridge.env")
    set(from "${HSB_SOURCE_DIR}/etc/hsbridge.env")
    set(mode OWNER_READ OWNER_WRITE)
  else()
    set(from "${staging}/hsbridge.conf")
    set(mode OWNER_READ OWNER_WRITE GROUP_READ)
  endif()
  set(rename ${name})
  if(EXISTS "$ENV{DESTDIR}${HSB_CONFDIR}/${name}")
    set(rename ${name}.new)
    message(STATUS "Keeping $ENV{DESTDIR}${HSB_CONFDIR}/${name}; the new one is ${name}.new")
  endif()
  file(INSTALL "${from}" DESTINATION "${HSB_CONFDIR}" RENAME ${rename} PERMISSIONS ${mode})
endforeach()
file(CHMOD "$ENV{DESTDIR}${HSB_CONFDIR}" DIRECTORY_PERMISSIONS
     OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
