# What `cmake --install` puts where (GNUInstallDirs), and the .deb
# (`cpack -G DEB`). Tests and fuzz targets are not installed.
#
#   binary   <prefix>/sbin/hsbridge (a daemon; its page is in section 8)
#   man      <prefix>/share/man/man8/hsbridge.8.gz, man5/hsbridge.conf.5.gz
#   config   <sysconfdir>/hsbridge/hsbridge.conf (0640) and hsbridge.env
#            (0600), in a 0750 folder; sysconfdir is /etc for the /usr prefix
#   unit     HSB_SYSTEMD_UNIT_DIR/hsbridge.service
#   user     HSB_SYSUSERS_DIR/hsbridge.conf (systemd-sysusers)
# The unit, the config and their folders are worked out when installing
# (packaging/install-time.cmake), so `--prefix` and cpack's /usr apply.

pkg_get_variable(HSB_PC_UNIT_DIR systemd systemdsystemunitdir)
pkg_get_variable(HSB_PC_SYSUSERS_DIR systemd sysusersdir)
if(NOT HSB_PC_UNIT_DIR)
  set(HSB_PC_UNIT_DIR lib/systemd/system)
endif()
if(NOT HSB_PC_SYSUSERS_DIR)
  set(HSB_PC_SYSUSERS_DIR lib/sysusers.d)
endif()
set(HSB_SYSTEMD_UNIT_DIR "${HSB_PC_UNIT_DIR}" CACHE STRING
    "Where hsbridge.service goes (default: pkg-config systemd's systemdsystemunitdir; relative: under the prefix)")
set(HSB_SYSUSERS_DIR "${HSB_PC_SYSUSERS_DIR}" CACHE STRING
    "Where the sysusers.d file of the hsbridge user goes (relative: under the prefix)")

install(TARGETS hsbridge RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# The README is the operator's guide the man pages and the config point to
# (metrics, alerts, the breaker, guarantees).
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(CODE "
  set(HSB_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(HSB_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  set(HSB_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(HSB_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(HSB_UNIT_DIR \"${HSB_SYSTEMD_UNIT_DIR}\")
  set(HSB_SYSUSERS_DIR \"${HSB_SYSUSERS_DIR}\")
  include(\"${PROJECT_SOURCE_DIR}/packaging/install-time.cmake\")
")

# ---- the .deb ---------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hsbridge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "HealthSync platform team <platform@healthsync.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "HealthSync webhook bridge: RabbitMQ events to signed HTTP webhooks")
# The long description; cpack puts the summary above it and indents it.
set(CPACK_PACKAGE_DESCRIPTION "hsbridge consumes the domain events services publish to a RabbitMQ topic
exchange and delivers each one as a signed HTTP POST (Standard Webhooks
and X-HealthSync-Signature) to every subscribed endpoint, with retries
through delay queues, a parked queue for what keeps failing and a
circuit breaker per endpoint.

The package ships a hardened systemd unit (Type=notify) that runs as the
system user hsbridge, and an example config in /etc/hsbridge/. It starts
nothing: configure, then systemctl enable --now hsbridge.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies from dpkg-shlibdeps (package dpkg-dev), plus what
# the maintainer scripts call (useradd when systemd-sysusers is missing).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libcurl 7.85 brought CURLOPT_PROTOCOLS_STR, which keeps requests to http
# and https (the binary refuses to start with an older one).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, libcurl4 (>= 7.85.0)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "rabbitmq-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Install with DESTDIR and the real prefix, so the absolute unit and /etc
# paths land inside the package and install-time.cmake sees /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
